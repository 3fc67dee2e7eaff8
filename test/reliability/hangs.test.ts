// Waits that no native call can end: a probe forward that loops forever, and worker_threads
// terminated mid-generation. Each runs in a child process or worker, so a thread left spinning
// dies with it, and must end promptly.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { LLADA_FIXTURE, ROOT } from "../support/fixtures";
import { type HostileArchives, makeHostileArchives } from "../support/hostileArchives";

let h: HostileArchives;
beforeAll(() => {
    h = makeHostileArchives();
}, 60000);
afterAll(() => {
    if (h) rmSync(h.dir, { recursive: true, force: true });
});

/** Runs `script` under tsx in a child; resolves to its stdout lines (JSON) and how long it took to exit after its last line. */
async function runChild(script: string): Promise<{ lines: Record<string, unknown>[]; code: number | null; exitAfterLastLineMs: number }> {
    const child = spawn(path.join(ROOT, "node_modules", ".bin", "tsx"), ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    let lastLineAt = 0;
    child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        lastLineAt = performance.now();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 30000);
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    clearTimeout(timer);
    const lines = out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
    return { lines, code, exitAfterLastLineMs: performance.now() - lastLineAt };
}

describe("a probe forward that never returns", () => {
    test("loadModel's signal and probeTimeoutMs end the load promptly; the process still loads, generates and exits", async () => {
        const script = `
            const { loadModel } = require(${JSON.stringify(path.join(ROOT, "lib"))});
            const looping = ${JSON.stringify(h.archive("probe-loops"))};
            const outcome = async (options) => {
                const t = performance.now();
                try { await loadModel({ modelPath: looping, device: "cpu", ...options }); return { code: "loaded" }; }
                catch (e) { return { code: e.code, message: e.message, ms: performance.now() - t }; }
            };
            (async () => {
                // Warm: the addon loaded and the read fast, so the signal fires during the probe.
                await (await loadModel({ modelPath: ${JSON.stringify(LLADA_FIXTURE)}, device: "cpu" })).dispose();
                console.log(JSON.stringify({ case: "signal", ...(await outcome({ signal: AbortSignal.timeout(500) })) }));
                console.log(JSON.stringify({ case: "probeTimeoutMs", ...(await outcome({ probeTimeoutMs: 500 })) }));
                const model = await loadModel({ modelPath: ${JSON.stringify(LLADA_FIXTURE)}, device: "cpu" });
                const result = await model.generate([5, 6, 7], { genLength: 16, blockLength: 16 });
                await model.dispose();
                console.log(JSON.stringify({ case: "after", tokens: result.tokens.length }));
                process.exit(0);
            })();`;
        const { lines, code, exitAfterLastLineMs } = await runChild(script);
        const byCase = Object.fromEntries(lines.map((l) => [l.case, l]));
        expect(byCase.signal).toMatchObject({ code: "ABORTED" });
        expect(byCase.signal?.message).toContain("abandoned");
        expect(byCase.signal?.ms as number).toBeLessThan(3000);
        expect(byCase.probeTimeoutMs).toMatchObject({ code: "MODEL_PROBE_FAILED" });
        expect(byCase.probeTimeoutMs?.message).toContain("500 ms");
        expect(byCase.probeTimeoutMs?.ms as number).toBeLessThan(3000);
        expect(byCase.after).toMatchObject({ tokens: 16 });
        expect(code).toBe(0);
        expect(exitAfterLastLineMs).toBeLessThan(2000);
    }, 60000);
});

describe("worker_threads", () => {
    test("terminate() of a worker generating a long batch returns promptly", async () => {
        const worker = new Worker(`
            const { parentPort } = require("node:worker_threads");
            require(${JSON.stringify(path.join(ROOT, "node_modules", "tsx", "dist", "cjs", "api", "index.cjs"))}).register();
            const { loadModel } = require(${JSON.stringify(path.join(ROOT, "lib"))});
            loadModel({ modelPath: ${JSON.stringify(LLADA_FIXTURE)}, device: "cpu" }).then((model) => {
                // 504 steps of 16 rows: about a minute, unless shutdown aborts it (one step is milliseconds).
                model.generate(Array.from({ length: 16 }, () => [5, 6, 7]), { genLength: 504, blockLength: 8 });
                setTimeout(() => parentPort.postMessage("generating"), 200);
            });`, { eval: true });
        await new Promise<void>((resolve, reject) => {
            worker.once("message", () => resolve());
            worker.once("error", reject);
        });
        const t = performance.now();
        await worker.terminate();
        expect(performance.now() - t).toBeLessThan(2000);
    }, 60000);
});
