// Serving throughput of the scheduler (issue 13): a closed-loop load generator. N clients each
// send a held-out problem, wait for the answer, and send the next, for --duration-s seconds (after
// a warm-up); every request is a generate() call on one model, so the scheduler decodes them as
// rows of one running batch. Reports per N: aggregate useful tokens/s, requests/s, p50/p95 latency,
// mean rows per forward (timings.meanRowsPerForward), held-out accuracy of the answers, and the
// speed-up against 1 client.
//
//   node dist/bench/serve.js --model M.pt [--device cuda|cpu] [--clients 1,4,16,64] [--gen 256]
//        [--block 32] [--cache none|prefix|dual] [--duration-s 60] [--warmup-s 10]
//        [--max-batch 64] [--min-requests 2xN] [--out serve.json]
// A level's window is --duration-s long, or longer until --min-requests requests completed in it.
//
// Targets (issue 13): LLaDA-8B config 16 clients >= 6x the tokens/s of 1 client with p50 <= 2x;
// the reference model 64 clients >= 8x. Note (docs/scheduler.md "Groups"): calls with a KV cache
// are lockstep groups of their own that reach the engine one at a time (lib/generation/
// CachedCallGate.ts), so --cache prefix/dual does not share forwards across clients yet.
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { type CacheMode, type GenerateResult, loadModel, type Model } from "../lib";
import { extractAnswer } from "../lib/calibrate/answerChecker";
import { loadProblems, type Problem } from "./accuracy/problems";
import { problemMessages } from "./accuracy/prompt";

interface LevelResult {
    clients: number;
    requests: number;
    seconds: number;
    tokensPerSecond: number;
    requestsPerSecond: number;
    p50Ms: number;
    p95Ms: number;
    meanRowsPerForward: number;
    accuracy: number;
    speedup?: number;
    p50VsOne?: number;
}

function quantile(sorted: number[], q: number): number {
    if (sorted.length === 0) return 0;
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

/** Useful tokens of a result: up to and including the first end token (as timings.tokensPerSecond counts). */
function usefulTokens(result: GenerateResult): number {
    return result.tokens.length + (result.finishReason === "eos" ? 1 : 0);
}

async function runLevel(model: Model, problems: Problem[], clients: number, options: Record<string, unknown>,
                        warmupS: number, durationS: number, minRequests: number): Promise<LevelResult> {
    let next = 0;
    const take = () => problems[next++ % problems.length] as Problem;
    const t0 = performance.now();
    const measureFrom = t0 + warmupS * 1000;
    const stopAt = measureFrom + durationS * 1000;
    // When a request takes longer than the window (8B shapes, many clients), the window grows
    // until minRequests have completed in it, so that every level reports measured requests.
    let windowEnd = stopAt;
    const latencies: number[] = [];
    let tokens = 0, rows = 0, correct = 0, counted = 0;
    const client = async () => {
        while (performance.now() < stopAt || counted < minRequests) {
            const problem = take();
            const start = performance.now();
            const result = await model.generate(problemMessages(problem.question), options);
            const end = performance.now();
            // Requests completed inside the window (steady state).
            if (end < measureFrom || (end > stopAt && counted >= minRequests)) continue;
            if (end > windowEnd) windowEnd = end;
            latencies.push(end - start);
            tokens += usefulTokens(result);
            rows += result.timings.meanRowsPerForward;
            counted++;
            if (extractAnswer(result.text) === BigInt(problem.answer)) correct++;
        }
    };
    await Promise.all(Array.from({ length: clients }, client));
    latencies.sort((a, b) => a - b);
    const seconds = (windowEnd - measureFrom) / 1000;
    return {
        clients,
        requests: counted,
        seconds,
        tokensPerSecond: tokens / seconds,
        requestsPerSecond: counted / seconds,
        p50Ms: quantile(latencies, 0.5),
        p95Ms: quantile(latencies, 0.95),
        meanRowsPerForward: counted > 0 ? rows / counted : 0,
        accuracy: counted > 0 ? correct / counted : 0,
    };
}

async function main(): Promise<void> {
    const { values } = parseArgs({
        options: {
            model: { type: "string" },
            device: { type: "string", default: "cuda" },
            clients: { type: "string", default: "1,4,16,64" },
            gen: { type: "string", default: "256" },
            block: { type: "string", default: "32" },
            cache: { type: "string", default: "none" },
            "duration-s": { type: "string", default: "60" },
            "warmup-s": { type: "string", default: "10" },
            "max-batch": { type: "string", default: "64" },
            problems: { type: "string", default: "500" },
            "min-requests": { type: "string" },
            out: { type: "string" },
        },
    });
    if (values.model === undefined) throw new Error("--model is required");
    const clientsList = (values.clients as string).split(",").map(Number);
    const model = await loadModel({
        modelPath: values.model, device: values.device as "cpu" | "cuda", maxBatchSize: Number(values["max-batch"]),
    });
    const problems = loadProblems(undefined, Number(values.problems));
    const options = {
        strategy: "localleap", genLength: Number(values.gen), blockLength: Number(values.block), stopAtEos: true,
        cache: values.cache as CacheMode,
    };
    const levels: LevelResult[] = [];
    try {
        for (const clients of clientsList) {
            const minRequests = values["min-requests"] !== undefined ? Number(values["min-requests"]) : 2 * clients;
            const level = await runLevel(model, problems, clients, options, Number(values["warmup-s"]), Number(values["duration-s"]), minRequests);
            const one = levels.find((l) => l.clients === 1);
            if (one !== undefined && one.tokensPerSecond > 0) {
                level.speedup = level.tokensPerSecond / one.tokensPerSecond;
                level.p50VsOne = one.p50Ms > 0 ? level.p50Ms / one.p50Ms : 0;
            }
            levels.push(level);
            console.log(
                `clients ${clients}: ${level.tokensPerSecond.toFixed(1)} tok/s, ${level.requestsPerSecond.toFixed(2)} req/s, ` +
                    `${level.requests} requests in ${level.seconds.toFixed(0)} s, p50 ${level.p50Ms.toFixed(0)} ms, p95 ${level.p95Ms.toFixed(0)} ms, rows/forward ${level.meanRowsPerForward.toFixed(2)}, ` +
                    `accuracy ${(100 * level.accuracy).toFixed(1)}%` +
                    (level.speedup !== undefined ? `, ${level.speedup.toFixed(2)}x tok/s of 1 client, p50 ${level.p50VsOne?.toFixed(2)}x` : ""),
            );
        }
    } finally {
        await model.dispose();
    }
    const report = { model: values.model, device: values.device, options, maxBatchSize: Number(values["max-batch"]), levels };
    if (values.out !== undefined) writeFileSync(values.out, `${JSON.stringify(report, null, 2)}\n`);
}

main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
});
