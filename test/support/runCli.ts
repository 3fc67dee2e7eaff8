import { spawn } from "node:child_process";
import path from "node:path";
import { ROOT } from "./fixtures";

/** The compiled CLI the native tests run (tsc -p tsconfig.test.json builds it). */
export const CLI = path.join(ROOT, "dist", "lib", "cli", "cli.js");

export interface CliRun {
    code: number | null;
    stdout: string;
    stderr: string;
}

/** Runs the CLI with `args`, writing `stdin` (if given) to its stdin and closing it. */
export function runCli(args: string[], stdin?: string): Promise<CliRun> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, FORCE_COLOR: "0" } });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code, stdout, stderr }));
        child.stdin.end(stdin ?? "");
    });
}
