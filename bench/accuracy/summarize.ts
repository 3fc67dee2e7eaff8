// Per-configuration figures and per-family AUP from the rows and batch timings of a run.
import { answerToJson } from "../../lib/calibrate/answerChecker";
import { aup, aupCurve } from "./aup";
import type { CacheMode } from "../cacheTypes";
import type { BenchConfig, Family } from "./configs";
import type { ConfigRun } from "./runner";

/** What the table shows for one configuration (accuracies in %). */
export interface ConfigSummary {
    name: string;
    family: Family;
    /** The KV cache it ran with (absent: none was asked for). */
    cache?: CacheMode;
    description: string;
    genLength: number;
    blockLength: number;
    options: BenchConfig["options"];
    /** Problems scored. */
    n: number;
    /** Held-out accuracy, %. */
    accuracy: number;
    /** Rows with no final-answer mark, %. */
    noAnswer: number;
    /** Rows that generated an end token, %. */
    finishEos: number;
    /** Mean forward passes per problem. */
    meanSteps: number;
    /** meanSteps as % of the one-token-per-step baseline (genLength steps). */
    stepsPct: number;
    /** Tokens per forward pass: positions committed by steps / forward passes (stopAtEos padding is not committed by a step). */
    tpf: number;
    /** (answer tokens + end token) / forward passes of the blocks up to the answer's end (evaluate.py's "answer tokens / content step"). */
    answerTpf: number;
    /** Useful tokens (up to and including the first end token) of all rows / engine time of all calls, per second. */
    tokensPerSecond: number;
    /** Engine time in steps / forward passes run (a forward serves every row of its batch). */
    msPerStep: number;
    /** Forward passes run, summed over batches (rows of a batch share them). */
    batchSteps: number;
    /** generate() calls and rows per call. */
    batches: number;
    batchSize: number;
    /** Engine time of all calls, s. */
    engineSeconds: number;
    /** Wall-clock time of all calls, s. */
    wallSeconds: number;
    /** Longest prompt, tokens. */
    maxPromptTokens: number;
    /** Calls that replayed CUDA graphs / all calls; fallback reasons seen. */
    cudaGraphCalls: number;
    cudaGraphFallbackReasons: string[];
    /** A few decodes, for the eye. */
    examples: { id: string; gold: number; pred: number | string | null; steps: number; text: string }[];
    /** APD: mean causal-LM forwards per problem (absent for the other strategies). */
    meanArForwards?: number;
    /** Every row, compactly: id, predicted answer, correct, steps. */
    rows: { id: string; pred: number | string | null; correct: boolean; steps: number }[];
}

/** AUP of one family at one gen length. */
export interface AupSummary {
    genLength: number;
    family: Family;
    /** Configurations of one family with different KV caches are scored apart. */
    cache?: CacheMode;
    /** Every point of the family (configuration, TPF, accuracy %) and those AUP integrates. */
    points: { name: string; tpf: number; accuracy: number }[];
    kept: string[];
    /** The best accuracy on the task (%), the W weight's reference. */
    yMax: number;
    aup: number;
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

/** The block that holds the row's end token (position answerTokens). */
function blockOf(r: { answerTokens: number; blockLengths?: number[] }, Lb: number): number {
    if (r.blockLengths === undefined) return Math.floor(r.answerTokens / Lb);
    let end = 0;
    for (let k = 0; k < r.blockLengths.length; k++) {
        end += r.blockLengths[k] as number;
        if (r.answerTokens < end) return k;
    }
    return r.blockLengths.length - 1;
}

export function summarize(run: ConfigRun): ConfigSummary {
    const { config, rows, batches } = run;
    const G = config.genLength;
    const Lb = config.options.blockLength ?? Math.min(32, G);
    const n = rows.length;
    const pct = (count: number) => (n > 0 ? (100 * count) / n : 0);
    const steps = sum(rows.map((r) => r.steps));
    // Adaptive blocks: the blocks decoded and their lengths are in blockLengths (fixed blocks: Lb each).
    // APD commits what its steps accept (the EOS padding after a stop is not committed by a step).
    const apdRows = rows.filter((r) => r.acceptedPerStep !== undefined);
    const committed = apdRows.length === n && n > 0 ? sum(apdRows.map((r) => sum(r.acceptedPerStep as number[]))) : sum(rows.map((r) => (r.blockLengths !== undefined ? Math.min(G, sum(r.blockLengths)) : G - Lb * r.stepsPerBlock.filter((s) => s === 0).length)));
    let contentTokens = 0;
    let contentSteps = 0;
    for (const r of rows) {
        const last = Math.min(r.stepsPerBlock.length - 1, blockOf(r, Lb));
        contentSteps += sum(r.stepsPerBlock.slice(0, last + 1));
        contentTokens += r.answerTokens + 1;
    }
    const useful = sum(rows.map((r) => (r.finishReason === "eos" ? r.answerTokens + 1 : G)));
    const engineMs = sum(batches.map((b) => b.totalMs));
    const batchSteps = sum(batches.map((b) => b.batchSteps));
    const stepMs = sum(batches.map((b) => b.msPerStep * b.batchSteps));
    return {
        name: config.name,
        family: config.family,
        ...(config.cache !== undefined && { cache: config.cache }),
        description: config.description,
        genLength: G,
        blockLength: Lb,
        options: config.options,
        n,
        accuracy: pct(rows.filter((r) => r.correct).length),
        noAnswer: pct(rows.filter((r) => r.pred === null).length),
        finishEos: pct(rows.filter((r) => r.finishReason === "eos").length),
        meanSteps: n > 0 ? steps / n : 0,
        stepsPct: n > 0 ? (100 * steps) / n / G : 0,
        tpf: steps > 0 ? committed / steps : 0,
        answerTpf: contentSteps > 0 ? contentTokens / contentSteps : 0,
        tokensPerSecond: engineMs > 0 ? useful / (engineMs / 1000) : 0,
        msPerStep: batchSteps > 0 ? stepMs / batchSteps : 0,
        batchSteps,
        batches: batches.length,
        batchSize: Math.max(0, ...batches.map((b) => b.rows)),
        engineSeconds: engineMs / 1000,
        wallSeconds: sum(batches.map((b) => b.wallMs)) / 1000,
        maxPromptTokens: Math.max(0, ...rows.map((r) => r.promptTokens)),
        cudaGraphCalls: batches.filter((b) => b.cudaGraph).length,
        cudaGraphFallbackReasons: [...new Set(batches.map((b) => b.cudaGraphFallbackReason).filter((s) => s !== ""))],
        examples: rows.slice(0, 3).map((r) => ({ id: r.id, gold: r.gold, pred: answerToJson(r.pred), steps: r.steps, text: r.text })),
        ...(apdRows.length > 0 && { meanArForwards: sum(apdRows.map((r) => r.arForwards ?? 0)) / apdRows.length }),
        rows: rows.map((r) => ({ id: r.id, pred: answerToJson(r.pred), correct: r.correct, steps: r.steps })),
    };
}

/**
 * AUP per (gen length, family) over `summaries` (configurations run on the same problems);
 * y_max is the best accuracy among all of them.
 */
export function aupByFamily(summaries: readonly ConfigSummary[]): AupSummary[] {
    const yMax = Math.max(0, ...summaries.map((s) => s.accuracy));
    const groups = new Map<string, ConfigSummary[]>();
    for (const s of summaries) {
        const key = `${s.genLength}\u0000${s.family}\u0000${s.cache ?? "none"}`;
        groups.set(key, [...(groups.get(key) ?? []), s]);
    }
    const out: AupSummary[] = [];
    for (const members of groups.values()) {
        const first = members[0] as ConfigSummary;
        const points = members.map((s) => ({ name: s.name, tpf: s.tpf, accuracy: s.accuracy }));
        const kept = new Set(aupCurve(points));
        out.push({
            genLength: first.genLength,
            family: first.family,
            ...(first.cache !== undefined && { cache: first.cache }),
            points,
            kept: points.filter((p) => kept.has(p)).map((p) => p.name),
            yMax,
            aup: aup(points, yMax),
        });
    }
    return out;
}
