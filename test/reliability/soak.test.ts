// Aborts, concurrency, dispose and process exit under load: nothing hangs, leaks or changes
// later results.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { spawn } from "node:child_process";
import path from "node:path";
import { loadModel, LocalleapError, type Model } from "../../lib";
import { concurrentVsSequential, promptFor, runAbortSoak } from "../support/abortSoak";
import { LLADA_FIXTURE, ROOT } from "../support/fixtures";

const MiB = 1024 * 1024;
const REFERENCE = Array.from({ length: 8 }, (_, i) => promptFor(1000 + i));
const referenceTokens = async (model: Model) =>
    Promise.all(REFERENCE.map(async (prompt) => (await model.generate(prompt, { genLength: 32, blockLength: 16 })).tokens));

let model: Model;
beforeAll(async () => {
    model = await loadModel({ modelPath: LLADA_FIXTURE, device: "cpu", threads: 1 });
});
afterAll(async () => {
    await model?.dispose();
});

describe("abort soak", () => {
    test("300 generations aborted at seeded random moments: all ABORTED or complete, RSS bounded, later results unchanged", async () => {
        const soak = await runAbortSoak(model, 300, 20261201);
        console.log(`abort soak: ${soak.generations} generations, ${soak.aborted} aborted, ${soak.completed} completed, ` +
            `RSS ${(soak.rssStartBytes / MiB).toFixed(0)} -> ${(soak.rssEndBytes / MiB).toFixed(0)} MiB, max abort latency ${soak.maxAbortLatencyMs.toFixed(1)} ms, ${soak.wallMs.toFixed(0)} ms`);
        expect(soak.otherErrors).toEqual([]);
        expect(soak.generations).toBe(300);
        expect(soak.aborted).toBeGreaterThanOrEqual(200);
        expect(soak.rssEndBytes - soak.rssStartBytes).toBeLessThan(64 * MiB);
        expect(soak.maxAbortLatencyMs).toBeLessThan(200);
        const fresh = await loadModel({ modelPath: LLADA_FIXTURE, device: "cpu", threads: 1 });
        try {
            expect(await referenceTokens(model)).toEqual(await referenceTokens(fresh));
        } finally {
            await fresh.dispose();
        }
    }, 60000);
});

describe("concurrency", () => {
    test("50 concurrent generate() calls equal the same calls made one by one", async () => {
        const { concurrent, sequential } = await concurrentVsSequential(model, 50);
        expect(concurrent).toEqual(sequential);
    }, 60000);
});

describe("dispose during work", () => {
    test("dispose() while one runs and 20 are queued: each completes or rejects MODEL_DISPOSED/ABORTED, nothing hangs", async () => {
        const doomed = await loadModel({ modelPath: LLADA_FIXTURE, device: "cpu", threads: 1 });
        const calls = Array.from({ length: 21 }, (_, i) => doomed.generate(promptFor(i), { genLength: 64, blockLength: 32 }).then(
            () => "completed",
            (error: unknown) => (error instanceof LocalleapError ? error.code : `untyped: ${String(error)}`),
        ));
        await new Promise((resolve) => setTimeout(resolve, 5));
        const disposing = doomed.dispose();
        const late = await doomed.generate(promptFor(0), { genLength: 8, blockLength: 8 }).then(() => "completed", (e: LocalleapError) => e.code);
        const outcomes = await Promise.all(calls);
        await disposing;
        expect(late).toBe("MODEL_DISPOSED");
        for (const outcome of outcomes) expect(["completed", "MODEL_DISPOSED", "ABORTED"]).toContain(outcome);
        expect(doomed.disposed).toBe(true);
    }, 30000);
});

describe("process exit", () => {
    test("a process that calls process.exit() while generating exits within 2 s", async () => {
        const script = `
            const { loadModel } = require(${JSON.stringify(path.join(ROOT, "lib"))});
            loadModel({ modelPath: ${JSON.stringify(LLADA_FIXTURE)}, device: "cpu" }).then((model) => {
                model.generate(Array.from({ length: 256 }, () => [5, 6, 7]), { genLength: 256, blockLength: 32 });
                setTimeout(() => { console.log("exiting"); process.exit(0); }, 300);
            });`;
        const child = spawn(path.join(ROOT, "node_modules", ".bin", "tsx"), ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
        let exitAskedAt = 0;
        child.stdout.on("data", (chunk: Buffer) => {
            if (chunk.toString().includes("exiting")) exitAskedAt = performance.now();
        });
        const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
        expect(exitAskedAt).toBeGreaterThan(0);
        expect(code).toBe(0);
        expect(performance.now() - exitAskedAt).toBeLessThan(2000);
    }, 30000);
});
