import type { AddonGenerateResult } from "../bindings/AddonTypes";
import { InternalError } from "../errors";
import { cutGeneration, type TextLimits } from "../generation/cutGeneration";
import type { CacheMode, GenerateResult } from "../types";

/**
 * The public result of row `index` of a generation (docs/decoding.md "Ending"): tokens and text
 * end before the first end token, after maxTokens, before the first stop string.
 * `finalLength` is how many leading positions are committed (the whole span unless the decode
 * was finished early). tokensPerSecond counts the text's tokens, plus the end token when there
 * is one. A batch shares its steps' time, so msPerStep is the batch's time per forward pass.
 */
export function buildGenerateResult(
    native: AddonGenerateResult,
    details: { limits: TextLimits; finalLength?: number; seed: number; promptTokens: number; cache: CacheMode; index?: number },
): GenerateResult {
    const row = native.rows[details.index ?? 0];
    if (row === undefined) throw new InternalError("the native engine returned no result row");
    const generated = Array.from(row.tokens);
    const finalLength = details.finalLength ?? generated.length;
    const cut = cutGeneration(generated.slice(0, finalLength), finalLength === generated.length, details.limits);
    if (cut.reason === null) throw new InternalError("a generation was finished before its text ended");
    const usefulTokens = cut.tokens.length + (cut.reason === "eos" ? 1 : 0);
    return {
        text: cut.text,
        tokens: cut.tokens,
        steps: row.steps,
        stepsPerBlock: Array.from(row.stepsPerBlock),
        blockLengths: Array.from(row.blockLengths ?? []),
        finishReason: cut.reason,
        timings: {
            totalMs: native.totalMs,
            msPerStep: native.batchSteps > 0 ? native.stepMs / native.batchSteps : 0,
            tokensPerSecond: native.totalMs > 0 ? usefulTokens / (native.totalMs / 1000) : 0,
            fullSteps: native.fullSteps,
            msPerFullStep: native.fullSteps > 0 ? native.fullStepMs / native.fullSteps : 0,
            cachedSteps: native.cachedSteps,
            msPerCachedStep: native.cachedSteps > 0 ? native.cachedStepMs / native.cachedSteps : 0,
            meanRowsPerForward: native.batchSteps > 0 && native.rowsInForwards !== undefined ? native.rowsInForwards / native.batchSteps : 0,
        },
        cache: details.cache,
        seed: details.seed,
        promptTokens: details.promptTokens,
        cudaGraph: native.cudaGraph,
        cudaGraphFallbackReason: native.cudaGraphFallbackReason,
        ...(row.acceptedPerStep !== undefined && {
            dllmForwards: row.dllmForwards ?? row.steps,
            arForwards: row.arForwards ?? 0,
            acceptedPerStep: Array.from(row.acceptedPerStep),
        }),
    };
}
