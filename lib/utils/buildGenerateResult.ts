import type { AddonGenerateResult } from "../bindings/AddonTypes";
import { InternalError } from "../errors";
import type { GenerateResult } from "../types";

/**
 * The public result of row `index` of a generation (docs/decoding.md "Ending"): tokens and text
 * stop before the first end token; tokensPerSecond counts the tokens up to and including it.
 * A batch shares its steps' time, so msPerStep is the batch's time per forward pass.
 */
export function buildGenerateResult(
    native: AddonGenerateResult,
    details: { endIds: readonly number[]; decode: ((ids: number[]) => string) | null; seed: number; promptTokens: number; index?: number },
): GenerateResult {
    const row = native.rows[details.index ?? 0];
    if (row === undefined) throw new InternalError("the native engine returned no result row");
    const generated = Array.from(row.tokens);
    const ends = new Set(details.endIds);
    const endIndex = generated.findIndex((token) => ends.has(token));
    const tokens = endIndex >= 0 ? generated.slice(0, endIndex) : generated;
    const usefulTokens = endIndex >= 0 ? endIndex + 1 : generated.length;
    return {
        text: details.decode === null ? "" : details.decode(tokens),
        tokens,
        steps: row.steps,
        stepsPerBlock: Array.from(row.stepsPerBlock),
        finishReason: endIndex >= 0 ? "eos" : "length",
        timings: {
            totalMs: native.totalMs,
            msPerStep: native.batchSteps > 0 ? native.stepMs / native.batchSteps : 0,
            tokensPerSecond: native.totalMs > 0 ? usefulTokens / (native.totalMs / 1000) : 0,
        },
        seed: details.seed,
        promptTokens: details.promptTokens,
        cudaGraph: native.cudaGraph,
        cudaGraphFallbackReason: native.cudaGraphFallbackReason,
    };
}
