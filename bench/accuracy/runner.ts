// Runs one configuration over the problems: batches of chat prompts through model.generate([...]),
// each row scored by its final answer.
import type { Model } from "../../lib/model";
import type { GenerateResult } from "../../lib/types";
import { extractAnswer } from "../../lib/calibrate/answerChecker";
import type { AnswerText } from "./answerText";
import { withCacheOption } from "../cacheTypes";
import type { BenchConfig } from "./configs";
import type { Problem } from "./problems";
import { problemMessages } from "./prompt";

/** One problem's outcome. */
export interface RowResult {
    id: string;
    gold: number;
    pred: bigint | null;
    correct: boolean;
    /** Forward passes of this row. */
    steps: number;
    stepsPerBlock: number[];
    /** Length of each block decoded (adaptive blocks vary; absent in older reports). */
    blockLengths?: number[];
    /** Generated tokens before the first end token. */
    answerTokens: number;
    finishReason: GenerateResult["finishReason"];
    promptTokens: number;
    text: string;
    /** APD only: the causal LM's forwards and the tokens each step accepted. */
    arForwards?: number;
    acceptedPerStep?: number[];
}

/** One generate() call of a batch. */
export interface BatchTiming {
    rows: number;
    /** Engine time of the call (GenerateResult.timings.totalMs: set-up, steps, copies). */
    totalMs: number;
    /** Engine time per forward pass of the batch (GenerateResult.timings.msPerStep). */
    msPerStep: number;
    /** Forward passes the batch ran: per block, the most any row took (rows wait for each other). */
    batchSteps: number;
    /** Wall-clock time of the await, JS included. */
    wallMs: number;
    cudaGraph: boolean;
    cudaGraphFallbackReason: string;
}

/** Everything one configuration produced. */
export interface ConfigRun {
    config: BenchConfig;
    rows: RowResult[];
    batches: BatchTiming[];
}

/** Forward passes a batch ran: the engine runs each block until every row has finished it. */
export function batchStepsOf(results: readonly GenerateResult[]): number {
    const blocks = Math.max(0, ...results.map((r) => r.stepsPerBlock.length));
    let total = 0;
    for (let k = 0; k < blocks; k++) total += Math.max(0, ...results.map((r) => r.stepsPerBlock[k] ?? 0));
    return total;
}

/**
 * Runs `config` on `problems` in batches of `batch`, scoring `answerText` of each row (default:
 * GenerateResult.text); `onRows` hears after every batch.
 */
export async function runConfig(
    model: Model,
    config: BenchConfig,
    problems: readonly Problem[],
    options: { batch: number; answerText?: AnswerText; onRows?: (rows: readonly RowResult[]) => void },
): Promise<ConfigRun> {
    const rows: RowResult[] = [];
    const batches: BatchTiming[] = [];
    for (let start = 0; start < problems.length; start += options.batch) {
        const chunk = problems.slice(start, start + options.batch);
        const t0 = performance.now();
        const results = await model.generate(chunk.map((p) => problemMessages(p.question)), withCacheOption(config.options, config.cache));
        const wallMs = performance.now() - t0;
        const first = results[0] as GenerateResult;
        batches.push({
            rows: chunk.length,
            totalMs: first.timings.totalMs,
            msPerStep: first.timings.msPerStep,
            batchSteps: batchStepsOf(results),
            wallMs,
            cudaGraph: first.cudaGraph,
            cudaGraphFallbackReason: first.cudaGraphFallbackReason,
        });
        results.forEach((result, i) => {
            const problem = chunk[i] as Problem;
            const text = options.answerText ? options.answerText(result.tokens, result.text) : result.text;
            const pred = extractAnswer(text);
            rows.push({
                id: problem.id,
                gold: problem.answer,
                pred,
                correct: pred !== null && pred === BigInt(problem.answer),
                steps: result.steps,
                stepsPerBlock: result.stepsPerBlock,
                blockLengths: result.blockLengths,
                answerTokens: result.tokens.length,
                finishReason: result.finishReason,
                promptTokens: result.promptTokens,
                text,
                ...(result.acceptedPerStep !== undefined && { arForwards: result.arForwards ?? 0, acceptedPerStep: result.acceptedPerStep }),
            });
        });
        options.onRows?.(rows);
    }
    return { config, rows, batches };
}
