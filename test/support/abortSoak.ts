// Shared by test/reliability/soak.test.ts and bench/soak.ts: aborted generations at seeded
// random moments, and concurrent calls compared with the same calls made one by one.
import type { GenerateOptions, Model } from "../../lib";
import { LocalleapError } from "../../lib";
import { Prng } from "./prng";

export interface AbortSoakResult {
    generations: number;
    aborted: number;
    completed: number;
    /** Errors other than ABORTED (must be 0). */
    otherErrors: string[];
    rssStartBytes: number;
    rssEndBytes: number;
    /** Longest wait from abort() to the rejection, in ms. */
    maxAbortLatencyMs: number;
    wallMs: number;
}

/** A short prompt of ordinary ids for seed `i` (never the fixture's mask 297 or end ids 295/296). */
export function promptFor(i: number): number[] {
    return Array.from({ length: 3 + (i % 5) }, (_, k) => 5 + ((i * 31 + k * 7) % 200));
}

/**
 * `count` generations, each aborted at a seeded random moment: before it starts, after a random
 * number of steps (from onStep), or after a random delay. `warmup` runs first and is not counted
 * in rssStartBytes.
 */
export async function runAbortSoak(model: Model, count: number, seed: number, warmup = 20): Promise<AbortSoakResult> {
    const prng = new Prng(seed);
    const result: AbortSoakResult = { generations: 0, aborted: 0, completed: 0, otherErrors: [], rssStartBytes: 0, rssEndBytes: 0, maxAbortLatencyMs: 0, wallMs: 0 };
    const t0 = performance.now();
    for (let i = 0; i < warmup + count; i++) {
        if (i === warmup) result.rssStartBytes = process.memoryUsage().rss;
        const controller = new AbortController();
        let abortedAt = 0;
        const abort = () => {
            abortedAt = performance.now();
            controller.abort();
        };
        const how = prng.int(0, 2);
        const atStep = prng.int(0, 6);
        const options: GenerateOptions = { genLength: 64, blockLength: 32, signal: controller.signal };
        if (how === 1) options.onStep = (event) => void (event.step >= atStep && !controller.signal.aborted && abort());
        if (how === 0) abort();
        const running = model.generate(promptFor(i), options);
        const timer = how === 2 ? setTimeout(abort, prng.int(0, 8)) : undefined;
        try {
            await running;
            if (i >= warmup) result.completed++;
        } catch (error) {
            if (error instanceof LocalleapError && error.code === "ABORTED") {
                if (i >= warmup) result.aborted++;
                if (abortedAt > 0) result.maxAbortLatencyMs = Math.max(result.maxAbortLatencyMs, performance.now() - abortedAt);
            } else {
                result.otherErrors.push(String((error as Error)?.message ?? error));
            }
        } finally {
            clearTimeout(timer);
        }
        if (i >= warmup) result.generations++;
    }
    result.rssEndBytes = process.memoryUsage().rss;
    result.wallMs = performance.now() - t0;
    return result;
}

/** Options of concurrent call `i`: a mix of strategies, lengths and seeds. */
export function concurrentOptions(i: number): GenerateOptions {
    const strategies = [{ strategy: "localleap" }, { strategy: "threshold" }, { strategy: "low-confidence" }, { strategy: "random", temperature: 0.7, seed: i }] as const;
    return { genLength: 32, blockLength: i % 2 === 0 ? 32 : 16, ...strategies[i % strategies.length] } as GenerateOptions;
}

/** `count` generate() calls made at once, and the same calls one after another: token lists of each. */
export async function concurrentVsSequential(model: Model, count: number): Promise<{ concurrent: number[][]; sequential: number[][]; concurrentMs: number; sequentialMs: number }> {
    let t = performance.now();
    const concurrent = (await Promise.all(Array.from({ length: count }, (_, i) => model.generate(promptFor(i), concurrentOptions(i))))).map((r) => r.tokens);
    const concurrentMs = performance.now() - t;
    t = performance.now();
    const sequential: number[][] = [];
    for (let i = 0; i < count; i++) sequential.push((await model.generate(promptFor(i), concurrentOptions(i))).tokens);
    return { concurrent, sequential, concurrentMs, sequentialMs: performance.now() - t };
}
