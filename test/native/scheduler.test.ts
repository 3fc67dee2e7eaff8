// Issue 13: the scheduler decodes concurrent calls as rows of one running batch. Every call
// (generate, stream, explicit batches, mixed options) must give exactly what it gives alone, one
// call at a time (float32 fixtures on the CPU: token for token, steps for steps), aborted calls
// must leave the others untouched, and the calls must really have shared forwards.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { AbortError, type GenerateOptions, type GenerateResult, loadModel, type Model, type StepEvent } from "../../lib";
import { DREAM_FIXTURE, LLADA_FIXTURE } from "../support/fixtures";

function comparable(result: GenerateResult): Omit<GenerateResult, "timings"> {
    const { timings, ...rest } = result;
    void timings;
    return rest;
}

type Kind = "generate" | "stream" | "batch" | "aborted";
interface Call {
    kind: Kind;
    input: string | string[];
    options: GenerateOptions;
}

const STRATEGY_OPTIONS: GenerateOptions[] = [
    { strategy: "localleap" },
    { strategy: "threshold", threshold: 0.6 },
    { strategy: "low-confidence" },
    { strategy: "random", temperature: 0.8 },
    { strategy: "localleap", temperature: 0.7, radius: 2, anchorThreshold: 0.8, relaxedThreshold: 0.5 },
];

/** A deterministic mix of calls: lengths, blocks, strategies, sampling, stopAtEos, kinds. */
function mixedCalls(count: number): Call[] {
    return Array.from({ length: count }, (_, i): Call => {
        const genLength = [16, 32, 48][i % 3] as number;
        const blockLength = genLength === 48 ? 16 : ([8, 16][(i >> 1) % 2] as number);
        const base = STRATEGY_OPTIONS[i % STRATEGY_OPTIONS.length] as GenerateOptions;
        const scheduled = base.strategy === "low-confidence" || base.strategy === "random";
        const options = {
            ...base,
            genLength,
            blockLength,
            ...(scheduled && { steps: genLength / 2 }),
            stopAtEos: i % 4 === 1,
            seed: i,
            raw: i % 5 === 0,
            // Cache "none" rows share forwards; a cached call is a lockstep group of its own
            // (docs/scheduler.md "Groups"), some run beside them.
            cache: i % 8 === 5 ? "dual" : i % 8 === 6 ? "prefix" : "none",
        } as GenerateOptions;
        const prompt = `call ${i}:${" and more".repeat(i % 6)}`;
        const kind: Kind = i % 10 === 7 ? "aborted" : i % 7 === 3 ? "batch" : i % 5 === 2 ? "stream" : "generate";
        return { kind, input: kind === "batch" ? [prompt, `${prompt} second`, "third"] : prompt, options };
    });
}

async function runCall(model: Model, call: Call): Promise<GenerateResult[]> {
    if (call.kind === "batch") return model.generate(call.input as string[], call.options);
    if (call.kind === "stream") {
        const stream = model.stream(call.input as string, call.options);
        let done: GenerateResult | undefined;
        for await (const event of stream) if (event.type === "done") done = event.result;
        return [done as GenerateResult];
    }
    return [await model.generate(call.input as string, call.options)];
}

describe.each([["llada", LLADA_FIXTURE], ["dream", DREAM_FIXTURE]])("%s fixture", (_name, modelPath) => {
    let model: Model;
    beforeAll(async () => {
        model = await loadModel({ modelPath, device: "cpu" });
    });
    afterAll(async () => {
        await model?.dispose();
    });

    test("100 concurrent mixed calls (generate, stream, batches, some aborted) equal sequential decoding", async () => {
        const calls = mixedCalls(100);
        const sequential: (GenerateResult[] | null)[] = [];
        for (const call of calls) sequential.push(call.kind === "aborted" ? null : await runCall(model, call));

        const concurrent = calls.map((call) => {
            if (call.kind !== "aborted") return runCall(model, call);
            // Aborted after its first step: the call rejects, its rows leave the batch, nothing else moves.
            const controller = new AbortController();
            return model.generate(call.input as string, {
                ...call.options, signal: controller.signal, onStep: () => controller.abort(),
            } as GenerateOptions).then(() => [] as GenerateResult[]);
        });
        const settled = await Promise.allSettled(concurrent);
        let shared = 0;
        settled.forEach((outcome, i) => {
            const call = calls[i] as Call;
            if (call.kind === "aborted") {
                expect({ i, rejected: outcome.status === "rejected" && outcome.reason instanceof AbortError }).toEqual({ i, rejected: true });
                return;
            }
            expect({ i, status: outcome.status }).toEqual({ i, status: "fulfilled" });
            const got = (outcome as PromiseFulfilledResult<GenerateResult[]>).value;
            expect({ i, kind: call.kind, results: got.map(comparable) }).toEqual({ i, kind: call.kind, results: (sequential[i] as GenerateResult[]).map(comparable) });
            if (got.some((r) => r.timings.meanRowsPerForward > 1.5)) shared++;
            if (call.options.cache !== "none" && call.kind !== "batch") expect({ i, alone: got[0]?.timings.meanRowsPerForward }).toEqual({ i, alone: 1 });
        });
        // The uncached calls really shared forwards (the default maxBatchSize is 32).
        expect(shared).toBeGreaterThan(50);
    }, 600_000);

    test("step events of concurrent calls equal each call's own events", async () => {
        const calls = mixedCalls(12).filter((c) => c.kind === "generate");
        const own: StepEvent[][] = [];
        for (const call of calls) {
            const events: StepEvent[] = [];
            await model.generate(call.input as string, { ...call.options, onStep: (e: StepEvent) => events.push(e) } as GenerateOptions);
            own.push(events);
        }
        const together: StepEvent[][] = calls.map(() => []);
        await Promise.all(calls.map((call, i) => model.generate(call.input as string, { ...call.options, onStep: (e: StepEvent) => together[i]?.push(e) } as GenerateOptions)));
        const strip = (events: StepEvent[]) => events.map(({ step, block, committed, text }) => ({ step, block, committed, text }));
        calls.forEach((_c, i) => expect({ i, events: strip(together[i] as StepEvent[]) }).toEqual({ i, events: strip(own[i] as StepEvent[]) }));
    }, 300_000);
});

describe("admission and caches", () => {
    test("maxBatchSize 1 and 3 give the same results as the default; FIFO order of completion at size 1", async () => {
        const calls = mixedCalls(20).filter((c) => c.kind === "generate");
        const results: Omit<GenerateResult, "timings">[][] = [];
        for (const maxBatchSize of [1, 3, 32]) {
            const model = await loadModel({ modelPath: LLADA_FIXTURE, device: "cpu", maxBatchSize });
            try {
                const order: number[] = [];
                const got = await Promise.all(calls.map((call, i) => model.generate(call.input as string, call.options).then((r) => {
                    order.push(i);
                    return comparable(r);
                })));
                if (maxBatchSize === 1) {
                    // FIFO within each kind: cached calls wait their turn at the model's cached-call gate.
                    const of = (cached: boolean) => calls.map((c, i) => ({ c, i })).filter(({ c }) => (c.options.cache !== "none") === cached).map(({ i }) => i);
                    expect(order.filter((i) => of(false).includes(i))).toEqual(of(false));
                    expect(order.filter((i) => of(true).includes(i))).toEqual(of(true));
                }
                results.push(got);
            } finally {
                await model.dispose();
            }
        }
        expect(results[1]).toEqual(results[0]);
        expect(results[2]).toEqual(results[0]);
    }, 300_000);

    test("cached calls (prefix, dual) running beside uncached ones equal their sequential results", async () => {
        const model = await loadModel({ modelPath: LLADA_FIXTURE, device: "cpu" });
        try {
            const calls = mixedCalls(24).filter((c) => c.kind !== "aborted" && c.kind !== "stream").map((c, i) => ({
                ...c, options: { ...c.options, cache: (["none", "prefix", "dual", "none"] as const)[i % 4] } as GenerateOptions,
            }));
            const sequential: Omit<GenerateResult, "timings">[][] = [];
            for (const call of calls) sequential.push((await runCall(model, call)).map(comparable));
            const concurrent = await Promise.all(calls.map(async (call) => (await runCall(model, call)).map(comparable)));
            expect(concurrent).toEqual(sequential);
        } finally {
            await model.dispose();
        }
    }, 300_000);

    test("concurrent cached calls reach the engine one at a time, in arrival order (the cached-call gate)", async () => {
        const model = await loadModel({ modelPath: LLADA_FIXTURE, device: "cpu" });
        try {
            const calls = mixedCalls(8).filter((c) => c.kind === "generate").map((c, i) => ({
                ...c, options: { ...c.options, cache: i % 2 === 0 ? "dual" : "prefix" } as GenerateOptions,
            }));
            const alone: Omit<GenerateResult, "timings">[] = [];
            for (const call of calls) alone.push(comparable(await model.generate(call.input as string, call.options)));
            const stepsOf: number[] = [];
            const together = await Promise.all(calls.map(async (call, i) =>
                comparable(await model.generate(call.input as string, { ...call.options, onStep: () => stepsOf.push(i) } as GenerateOptions))));
            expect(together).toEqual(alone);
            // Every step of call i comes before the first step of call i + 1: no interleaving.
            const runs = stepsOf.filter((c, k) => k === 0 || c !== stepsOf[k - 1]);
            expect(runs).toEqual(calls.map((_c, i) => i));
        } finally {
            await model.dispose();
        }
    }, 300_000);

    test("a cached call aborted while it waits at the gate rejects at once; the others are untouched", async () => {
        const model = await loadModel({ modelPath: LLADA_FIXTURE, device: "cpu" });
        try {
            const options = { genLength: 48, blockLength: 16, cache: "dual", strategy: "low-confidence", steps: 48 } as GenerateOptions;
            const solo = comparable(await model.generate("first", options));
            const controller = new AbortController();
            const first = model.generate("first", options);
            const waiting = model.generate("second", { ...options, signal: controller.signal });
            const third = model.generate("first", options);
            const abortedAt = performance.now();
            controller.abort();
            await expect(waiting).rejects.toBeInstanceOf(AbortError);
            const rejectedAfterMs = performance.now() - abortedAt;
            expect(comparable(await first)).toEqual(solo);
            expect(comparable(await third)).toEqual(solo);
            // It did not wait for "first" (48 steps) to end: it never reached the engine.
            expect(rejectedAfterMs).toBeLessThan(1000);
        } finally {
            await model.dispose();
        }
    }, 120_000);

    test("dispose() lets running and queued calls finish, then rejects new ones", async () => {
        const model = await loadModel({ modelPath: LLADA_FIXTURE, device: "cpu", maxBatchSize: 2 });
        const running = Array.from({ length: 6 }, (_, i) => model.generate(`dispose ${i}`, { genLength: 16, blockLength: 8 }));
        const disposed = model.dispose();
        const results = await Promise.all(running);
        expect(results).toHaveLength(6);
        await disposed;
        await expect(model.generate("late", { genLength: 16 })).rejects.toThrow();
    }, 120_000);
});

describe("logits budget", () => {
    // Jest gives each test file a copy of process.env, so the variable is set for a child process.
    test("rows cut into separate forwards by a tiny logits budget still equal their solo decodes", async () => {
        const { execFileSync } = await import("node:child_process");
        const { mkdtempSync, writeFileSync } = await import("node:fs");
        const os = await import("node:os");
        const path = await import("node:path");
        const dir = mkdtempSync(path.join(os.tmpdir(), "localleap-budget-"));
        const script = path.join(dir, "budget.ts");
        const lib = path.join(__dirname, "..", "..", "lib");
        writeFileSync(script, `
            import { loadModel } from ${JSON.stringify(lib)};
            (async () => {
                const model = await loadModel({ modelPath: ${JSON.stringify(LLADA_FIXTURE)}, device: "cpu" });
                const calls = Array.from({ length: 8 }, (_, i) => ["budget " + i + " more".repeat(i % 4),
                    { genLength: [16, 32][i % 2], blockLength: 8, cache: "none", seed: i, temperature: i % 3 === 0 ? 0.8 : 0 }] as const);
                const strip = (r: any) => JSON.stringify({ ...r, timings: undefined });
                const solo = [];
                for (const [input, options] of calls) solo.push(strip(await model.generate(input, options as any)));
                const together = await Promise.all(calls.map(([input, options]) => model.generate(input, options as any)));
                console.log(JSON.stringify({ equal: together.every((r, i) => strip(r) === solo[i]), rows: together.map((r) => r.timings.meanRowsPerForward) }));
                await model.dispose();
            })();
        `);
        const tsx = path.join(__dirname, "..", "..", "node_modules", ".bin", "tsx");
        const out = execFileSync(tsx, [script], { env: { ...process.env, LOCALLEAP_LOGITS_BUDGET_BYTES: "1" }, encoding: "utf8" });
        const report = JSON.parse(out.trim().split("\n").pop() as string) as { equal: boolean; rows: number[] };
        expect(report).toEqual({ equal: true, rows: Array.from({ length: 8 }, () => 1) });
    }, 120_000);
});
