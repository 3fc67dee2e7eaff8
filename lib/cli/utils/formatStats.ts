import type { GenerateResult } from "../../types";

/** The line printed after the text: steps, per-block steps, finish reason and timings. */
export function formatStats(result: GenerateResult): string {
    const t = result.timings;
    return (
        `steps: ${result.steps} (per block: ${result.stepsPerBlock.join(" ")}), finish: ${result.finishReason}, ` +
        `${t.totalMs.toFixed(1)} ms total, ${t.msPerStep.toFixed(2)} ms/step, ${t.tokensPerSecond.toFixed(1)} tokens/s, ` +
        (result.arForwards !== undefined
            // Strategy apd keeps its own caches (kvWindow for the dLLM, always for the causal LM).
            ? `apd: ${result.arForwards} causal-LM forwards, accepted per step ${(result.acceptedPerStep ?? []).join(" ")}`
            : result.cache === "none"
            ? "cache none"
            : `cache ${result.cache} (${t.fullSteps} full steps at ${t.msPerFullStep.toFixed(2)} ms, ${t.cachedSteps} cached at ${t.msPerCachedStep.toFixed(2)} ms)`)
    );
}
