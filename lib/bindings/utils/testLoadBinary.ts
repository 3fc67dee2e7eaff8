import { spawn } from "node:child_process";
import type { AddonBuildInfo } from "../AddonTypes";
import { parseTestLoadOutput } from "./parseTestLoadOutput";
import { testLoadScript } from "./testLoadScript";

/** Whether a binary loads, with its build info, or why not. */
export type TestLoadVerdict = { ok: true; buildInfo: AddonBuildInfo } | { ok: false; reason: string };

const verdicts = new Map<string, Promise<TestLoadVerdict>>();

/**
 * Loads `binaryPath` (after preloading `libraries`) in a child Node process and reads its
 * buildInfo(): a binary with missing libtorch symbols or a crashing static initialiser kills
 * the child, not us. The verdict is cached for the process.
 */
export function testLoadBinary(binaryPath: string, libraries: readonly string[], timeoutMs = 120_000): Promise<TestLoadVerdict> {
    const key = [binaryPath, ...libraries].join("\0");
    let verdict = verdicts.get(key);
    if (verdict === undefined) {
        verdict = runChild(binaryPath, libraries, timeoutMs);
        verdicts.set(key, verdict);
    }
    return verdict;
}

function runChild(binaryPath: string, libraries: readonly string[], timeoutMs: number): Promise<TestLoadVerdict> {
    return new Promise((resolve) => {
        const child = spawn(process.execPath, ["-e", testLoadScript(), "--", binaryPath, ...libraries], {
            stdio: ["ignore", "pipe", "pipe"],
            timeout: timeoutMs,
            windowsHide: true,
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        child.on("error", (error) => resolve({ ok: false, reason: `could not start ${process.execPath}: ${error.message}` }));
        child.on("close", (code, signal) => {
            const buildInfo = parseTestLoadOutput(stdout);
            if (code === 0 && buildInfo !== null) return resolve({ ok: true, buildInfo });
            resolve({ ok: false, reason: failureReason(stderr, code, signal) });
        });
    });
}

/** The useful line of a failed load: Node's "Error: ..." line, else the last one, else the exit. */
function failureReason(stderr: string, code: number | null, signal: NodeJS.Signals | null): string {
    const lines = stderr.split("\n").map((l) => l.trim()).filter((l) => l !== "");
    const errorLine = lines.find((l) => /^(Error|TypeError|RangeError)\b/.test(l)) ?? lines[lines.length - 1];
    const exit = signal !== null ? `killed by ${signal}` : `exit code ${code}`;
    return errorLine ? `${errorLine.replace(/^Error: /, "")} (${exit})` : `the test load failed (${exit})`;
}
