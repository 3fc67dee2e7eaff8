// The decoding configurations the benchmark scores (block length 32, greedy, as evaluate.py).
import type { CommonGenerateOptions, GenerateOptions } from "../../lib/options";
import type { CacheMode } from "../cacheTypes";

/** The block length of every configuration (evaluate.py's). */
export const BLOCK_LENGTH = 32;

/**
 * Strategy families for AUP: a family's configurations differ only in how parallel they decode.
 * stopAtEos configurations are families of their own (same commits, fewer forward passes).
 */
export type Family =
    | "low-confidence"
    | "threshold"
    | "threshold+stop"
    | "localleap"
    | "localleap+stop"
    | "threshold+eot"
    | "localleap+eot"
    | "threshold (model defaults)"
    | "localleap (model defaults)"
    | "threshold+adaptive"
    | "localleap+adaptive"
    | "localleap+adaptive+stop"
    | "learned"
    | "apd";

/** One configuration: a name, its family and the generate() options it runs with. */
export interface BenchConfig {
    /** e.g. "lc-256", "lc-256-s64", "threshold-256", "localleap-256-stop". */
    name: string;
    family: Family;
    genLength: number;
    /** What it is, for tables. */
    description: string;
    /** generate() options (genLength and blockLength included; temperature 0). */
    options: GenerateOptions;
    /** For the sweep: which parameter this point varies ("kappa", "tau", "W", "theta") and its value. */
    sweep?: { parameter: "kappa" | "tau" | "W" | "theta"; value: number };
    /**
     * The KV cache (issue 12), passed to generate() as its `cache` option; absent: the option is
     * not passed (the model's default: model.info.defaultCache).
     */
    cache?: CacheMode;
}

const base = (genLength: number): CommonGenerateOptions => ({ genLength, blockLength: BLOCK_LENGTH, temperature: 0, seed: 0 });

/** Low-confidence with `steps` total steps (genLength: the one-token-per-step baseline). */
export function lowConfidence(genLength: number, steps = genLength): BenchConfig {
    const perStep = genLength / steps;
    return {
        name: steps === genLength ? `lc-${genLength}` : `lc-${genLength}-s${steps}`,
        family: "low-confidence",
        genLength,
        description: steps === genLength ? "low-confidence, 1 token/step (baseline)" : `low-confidence, ${steps} steps (${perStep} tokens/step)`,
        options: { ...base(genLength), strategy: "low-confidence", steps },
    };
}

/** Fast-dLLM's threshold rule with θ. */
export function threshold(genLength: number, theta = 0.9, stopAtEos = false): BenchConfig {
    const suffix = (theta === 0.9 ? "" : `-t${theta}`) + (stopAtEos ? "-stop" : "");
    return {
        name: `threshold-${genLength}${suffix}`,
        family: stopAtEos ? "threshold+stop" : "threshold",
        genLength,
        description: `threshold θ=${theta}${stopAtEos ? ", stopAtEos" : ""}`,
        options: { ...base(genLength), strategy: "threshold", threshold: theta, stopAtEos },
    };
}

/** LocalLeap with κ, τ, W (the paper's defaults 0.9, 0.75, 4). */
export function localleap(genLength: number, kappa = 0.9, tau = 0.75, radius = 4, stopAtEos = false): BenchConfig {
    const isDefault = kappa === 0.9 && tau === 0.75 && radius === 4;
    const suffix = (isDefault ? "" : `-k${kappa}-t${tau}-w${radius}`) + (stopAtEos ? "-stop" : "");
    return {
        name: `localleap-${genLength}${suffix}`,
        family: stopAtEos ? "localleap+stop" : "localleap",
        genLength,
        description: `localleap κ=${kappa} τ=${tau} W=${radius}${stopAtEos ? ", stopAtEos" : ""}`,
        options: { ...base(genLength), strategy: "localleap", anchorThreshold: kappa, relaxedThreshold: tau, radius, stopAtEos },
    };
}

/** Learn2PD's learned filter with accept threshold t (the archive must carry a filter, docs/decoding.md "Learned filter"). */
export function learned(genLength: number, t: number): BenchConfig {
    return {
        name: `learned-${genLength}-a${t}`,
        family: "learned",
        genLength,
        description: `learned filter, accept threshold t=${t}`,
        options: { ...base(genLength), strategy: "learned", acceptThreshold: t },
    };
}

/** The learned filter at a few accept thresholds (bench --learned): its own AUP family. */
export function learnedConfigs(genLength: number): BenchConfig[] {
    return [0.99, 0.96, 0.9, 0.8].map((t) => learned(genLength, t));
}

/**
 * APD (docs/decoding.md "APD") with mixture weight R, dLLM cache window W (null: none) and
 * lookahead M; left to right over the whole generation (blockLength = genLength), stopping at the
 * end token (stopAtEos). The model must be loaded with a causal LM (bench --ar-model).
 */
export function apd(genLength: number, r: number, w: number | null = 16, m = 100): BenchConfig {
    return {
        name: `apd-${genLength}-r${r}${w === 16 ? "" : `-w${w ?? "none"}`}${m === 100 ? "" : `-m${m}`}`,
        family: "apd",
        genLength,
        description: `APD R=${r} W=${w ?? "none"} M=${m}, stopAtEos`,
        options: { genLength, blockLength: genLength, temperature: 0, seed: 0, strategy: "apd", mixtureWeight: r, kvWindow: w, maxLookahead: m, stopAtEos: true },
    };
}

/**
 * APD at a few R (the paper demo's W 16, M 100), R 0.7 without the dLLM cache, and R 0.7 at
 * smaller lookaheads M (bench --apd).
 */
export function apdConfigs(genLength: number): BenchConfig[] {
    return [...[0.5, 0.7, 0.9, 1].map((r) => apd(genLength, r)), apd(genLength, 0.7, null), ...[10, 25, 50].map((m) => apd(genLength, 0.7, 16, m))];
}

/**
 * The table's configurations for one gen length: the one-token baseline, LLaDA's fixed schedules
 * with genLength/2 and genLength/4 steps, threshold 0.9 (Fast-dLLM), localleap with the paper's
 * defaults, and both with stopAtEos.
 */
export function mainConfigs(genLength: number): BenchConfig[] {
    return [
        lowConfidence(genLength),
        lowConfidence(genLength, genLength / 2),
        lowConfidence(genLength, genLength / 4),
        threshold(genLength),
        threshold(genLength, 0.9, true),
        localleap(genLength),
        localleap(genLength, 0.9, 0.75, 4, true),
    ];
}

/**
 * The further decoders (issue 15) beside the main table: end-of-text prediction (endOfText) with
 * threshold 0.9 and LocalLeap's defaults, each a family of its own like the stopAtEos rows (same
 * commits up to the end token, fewer forward passes); AdaBlock's adaptive blocks
 * (adaptiveConfigs); Learn2PD's learned filter at a few accept thresholds (learnedConfigs: the
 * archive must carry a filter).
 */
export function decoderConfigs(genLength: number): BenchConfig[] {
    const eot = (config: BenchConfig, family: Family): BenchConfig => ({
        ...config,
        name: `${config.name}-eot`,
        family,
        description: `${config.description}, endOfText`,
        options: { ...config.options, endOfText: true },
    });
    return [eot(threshold(genLength), "threshold+eot"), eot(localleap(genLength), "localleap+eot"), ...adaptiveConfigs(genLength), ...learnedConfigs(genLength)];
}

/**
 * What generate() does when the caller names only the strategy: the archive's decodingDefaults
 * (`localleap calibrate --write`), else the built-in ones. Each is a family of its own so that
 * adding them leaves the other families' AUP as it was.
 */
export function modelDefaultConfigs(genLength: number): BenchConfig[] {
    return [
        {
            name: `threshold-${genLength}-defaults`,
            family: "threshold (model defaults)",
            genLength,
            description: "threshold, θ from the model's decodingDefaults",
            options: { ...base(genLength), strategy: "threshold" },
        },
        {
            name: `localleap-${genLength}-defaults`,
            family: "localleap (model defaults)",
            genLength,
            description: "localleap, κ τ W from the model's decodingDefaults",
            options: { ...base(genLength), strategy: "localleap" },
        },
    ];
}

/**
 * AdaBlock's adaptive block length (docs/decoding.md "Adaptive blocks") on threshold 0.9 and on
 * LocalLeap with the paper's defaults, the latter with and without stopAtEos: blockLength 32 is the
 * default length, the window genLength / 4 and the delimiter threshold the model's (or 0.3). The
 * archive needs delimiterIds.
 */
export function adaptiveConfigs(genLength: number): BenchConfig[] {
    const onThreshold: BenchConfig = {
        ...threshold(genLength),
        name: `threshold-${genLength}-adaptive`,
        family: "threshold+adaptive",
        description: `${threshold(genLength).description}, adaptive blocks`,
        options: { ...threshold(genLength).options, adaptiveBlock: true },
    };
    return [onThreshold, ...[false, true].map((stopAtEos) => {
        const config = localleap(genLength, 0.9, 0.75, 4, stopAtEos);
        return {
            ...config,
            name: `localleap-${genLength}-adaptive${stopAtEos ? "-stop" : ""}`,
            family: stopAtEos ? "localleap+adaptive+stop" : "localleap+adaptive",
            description: `${config.description}, adaptive blocks`,
            options: { ...config.options, adaptiveBlock: true },
        } as BenchConfig;
    })];
}

/**
 * `config` with the KV cache `cache`: named and described with it unless "none" (so that a run with
 * `--cache none,prefix,dual` keeps the cache-less names for the cache-less figures), same family
 * (AUP groups by family and cache).
 */
export function withCache(config: BenchConfig, cache: CacheMode): BenchConfig {
    return {
        ...config,
        name: cache === "none" ? config.name : `${config.name}-${cache}`,
        description: cache === "none" ? config.description : `${config.description}, ${cache} cache`,
        cache,
    };
}

/** Every configuration once per cache mode, cache by cache in the order given (all of "none" first). */
export function cacheVariants(configs: readonly BenchConfig[], caches: readonly CacheMode[]): BenchConfig[] {
    return caches.flatMap((cache) => configs.map((c) => withCache(c, cache)));
}

/** The name of a configuration without its cache suffix ("threshold-256-dual" -> "threshold-256"). */
export function baseName(config: BenchConfig): string {
    return config.cache === undefined || config.cache === "none" ? config.name : config.name.slice(0, -(config.cache.length + 1));
}

/** Values of the sweep, one parameter at a time around the defaults (κ 0.9, τ 0.75, W 4). */
export const SWEEP_KAPPA = [0.8, 0.85, 0.9, 0.95, 0.99];
export const SWEEP_TAU = [0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9];
export const SWEEP_W = [0, 1, 2, 3, 4, 6, 8, 16];
export const SWEEP_THETA = [0.7, 0.8, 0.9, 0.95];

/**
 * The ablation of the LocalLeap paper's shape: κ, τ and W varied one at a time with the others at
 * their defaults (τ is capped at κ), plus threshold θ and the one-token baseline on the same
 * problems for reference. Each distinct configuration appears once (the defaults are shared).
 */
export function sweepConfigs(genLength: number): BenchConfig[] {
    const configs: BenchConfig[] = [lowConfidence(genLength)];
    for (const theta of SWEEP_THETA) configs.push({ ...threshold(genLength, theta), sweep: { parameter: "theta", value: theta } });
    const seen = new Map<string, BenchConfig>();
    const add = (parameter: "kappa" | "tau" | "W", value: number, kappa: number, tau: number, radius: number) => {
        const config = localleap(genLength, kappa, tau, radius);
        if (!seen.has(config.name)) {
            seen.set(config.name, { ...config, sweep: { parameter, value } });
            configs.push(seen.get(config.name) as BenchConfig);
        }
    };
    for (const kappa of SWEEP_KAPPA) add("kappa", kappa, kappa, Math.min(0.75, kappa), 4);
    for (const tau of SWEEP_TAU) add("tau", tau, 0.9, tau, 4);
    for (const radius of SWEEP_W) add("W", radius, 0.9, 0.75, radius);
    return configs;
}

/** Points of the sweep for one parameter: the configurations whose κ / τ / W is that value, others at defaults. */
export function sweepPoints(parameter: "kappa" | "tau" | "W"): { value: number; kappa: number; tau: number; radius: number }[] {
    if (parameter === "kappa") return SWEEP_KAPPA.map((kappa) => ({ value: kappa, kappa, tau: Math.min(0.75, kappa), radius: 4 }));
    if (parameter === "tau") return SWEEP_TAU.map((tau) => ({ value: tau, kappa: 0.9, tau, radius: 4 }));
    return SWEEP_W.map((radius) => ({ value: radius, kappa: 0.9, tau: 0.75, radius }));
}
