// The benches' helpers for the KV cache (docs/decoding.md "KV cache"): parsing --cache, the
// per-kind step timings of a native result, the cache option of generate().
import type { AddonGenerateRequest, AddonGenerateResult } from "../lib/bindings/AddonTypes";
import { CACHE_MODES, type GenerateOptions } from "../lib/options";
import type { CacheMode } from "../lib/types";

export { CACHE_MODES, type CacheMode };

export function isCacheMode(value: string): value is CacheMode {
    return (CACHE_MODES as readonly string[]).includes(value);
}

/** "none,prefix,dual" -> the modes, in that order; throws on anything else. */
export function parseCacheModes(text: string, what = "--cache"): CacheMode[] {
    const modes = text.split(",").map((s) => s.trim()).filter(Boolean);
    if (modes.length === 0) throw new Error(`${what}: give one or more of ${CACHE_MODES.join(", ")}`);
    for (const m of modes) if (!isCacheMode(m)) throw new Error(`${what}: ${JSON.stringify(m)} is not one of ${CACHE_MODES.join(", ")}`);
    return [...new Set(modes as CacheMode[])];
}

/** The native request (it has the `cache` field). */
export type CacheGenerateRequest = AddonGenerateRequest;

/** The engine's per-kind step timings in generate()'s native result (issue 12). */
export interface CacheStepTimings {
    /** Steps that ran the whole canvas (every step without a cache; a block's first step with one). */
    fullSteps: number;
    /** Milliseconds of those steps, summed. */
    fullStepMs: number;
    /** Steps that ran only the window, against the cache. */
    cachedSteps: number;
    /** Milliseconds of those steps, summed. */
    cachedStepMs: number;
}

/**
 * The per-kind step timings of a native result. Missing fields (a binary that predates the
 * cache) throw, throw, unless `legacyOk` (a dry run on a binary that predates the cache): then
 * every step counts as a full step, which is right only for cache "none", and `legacy` says so.
 */
export function cacheStepTimings(result: AddonGenerateResult, legacyOk: boolean): CacheStepTimings & { legacy: boolean } {
    const r = result as Partial<AddonGenerateResult>;
    const fields = ["fullSteps", "fullStepMs", "cachedSteps", "cachedStepMs"] as const;
    const missing = fields.filter((f) => typeof r[f] !== "number" || !Number.isFinite(r[f]));
    if (missing.length === 0) {
        return { fullSteps: r.fullSteps as number, fullStepMs: r.fullStepMs as number, cachedSteps: r.cachedSteps as number, cachedStepMs: r.cachedStepMs as number, legacy: false };
    }
    if (!legacyOk) {
        throw new Error(
            `the engine's generate() result has no ${missing.join(", ")}: this binary predates the KV cache of issue 12 ` +
                "(rebuild it from native/, e.g. tools/device/cache8b.sh without SKIP_BUILD=1; --legacy-ok only for a dry run of the bench's code)",
        );
    }
    return { fullSteps: result.batchSteps, fullStepMs: result.stepMs, cachedSteps: 0, cachedStepMs: 0, legacy: true };
}

/** The options to pass to model.generate(): `options`, plus `cache` when one is given (else the model's default). */
export function withCacheOption(options: GenerateOptions, cache: CacheMode | undefined): GenerateOptions {
    if (cache === undefined) return options;
    return { ...options, cache };
}
