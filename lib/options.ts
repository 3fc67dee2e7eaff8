import { z } from "zod";
import { InvalidOptionsError, type OptionIssue } from "./errors";
import { formatZodIssues } from "./schemas/formatZodIssues";
import type { DecodingDefaults } from "./metadata";
import type { CacheMode, CudaDeviceIndex, DeviceOption, LoadProgress, StepEvent, Strategy, TextChunk } from "./types";
import { formatValue } from "./utils/formatValue";

/** Largest genLength / blockLength / radius accepted; the model's maxLength is checked later. */
export const MAX_GEN_LENGTH = 65536;
/** Largest `threads` accepted. */
export const MAX_THREADS = 1024;
/**
 * Smallest temperature > 0: the kernels scale logits by 1 / T in float32, which overflows for
 * T below ~3e-39; far above that, 1e-3 already samples like greedy.
 */
export const MIN_TEMPERATURE = 1e-3;
/** Largest seed: 2^53 - 1, the largest integer a JS number holds exactly. */
export const MAX_SEED = Number.MAX_SAFE_INTEGER;

/** The strategies, in the order docs list them. */
export const STRATEGIES: readonly Strategy[] = ["low-confidence", "random", "threshold", "localleap", "learned", "apd"];

/** The block rule's strategies (every one but "apd", which also needs a causal LM loaded; "learned" needs an archive with a learned filter). */
export const BLOCK_STRATEGIES: readonly Strategy[] = ["low-confidence", "random", "threshold", "localleap", "learned"];

/** Accept threshold of strategy "learned" when neither the options nor the archive's filter give one (Learn2PD's public scripts). */
export const DEFAULT_ACCEPT_THRESHOLD = 0.96;

/** APD's defaults (docs/decoding.md "APD"; the paper demo's R 0.7, W 16, M 100). */
export const APD_DEFAULTS = { mixtureWeight: 0.7, kvWindow: 16, maxLookahead: 100 } as const;

/** Options of {@link LoadModelOptions.apd}: the causal LM of strategy "apd". */
export interface ApdLoadOptions {
    /**
     * A causal-LM archive (kind "causal", docs/model-format.md) with the dLLM's tokenizer: loaded
     * beside it, on the same device. Default: the embedded model's own causal LM
     * (models/reference-ar), when modelPath is left out too; with a modelPath it is required.
     */
    arModelPath?: string;
}

/** Options of {@link loadModel}. */
export interface LoadModelOptions {
    /** Path of a localleap model.pt (or a folder holding one); default: the package's reference model. */
    modelPath?: string;
    /** Tokenizer to use instead of the one embedded in the model: a folder with tokenizer.json (+ tokenizer_config.json) or a tokenizer.json path. */
    tokenizerPath?: string;
    /**
     * 'auto' (default) uses CUDA (GPU 0) when the loaded binary has it and a GPU is visible; 'cuda'
     * is GPU 0 of those the process sees, 'cuda:N' GPU N (CudaUnavailableError, naming how many
     * there are, when there is no GPU N). A model's worker, stream, graphs and memory stay on its GPU.
     */
    device?: DeviceOption;
    /**
     * Intra-op threads of the model's worker (1..1024); 0 or unset keeps libtorch's default (one
     * per physical core). More threads than the machine has cores only slow a step (measured
     * 10-100x on 2 cores), so the engine caps the count at the core count; model.info.threads
     * says what was asked.
     */
    threads?: number;
    /** Aborts loading (rejects with AbortError). */
    signal?: AbortSignal;
    /** Called while the archive is read. */
    onProgress?: (progress: LoadProgress) => void;
    /**
     * Most generate()/stream() calls that may wait for this model at once (1..100000, default
     * 1024); one more rejects at once with QueueFullError. Calls are admitted in the order made
     * (FIFO) into the model's running batch (see maxBatchSize, docs/scheduler.md).
     */
    maxQueuedGenerations?: number;
    /**
     * Most rows (prompts) decoded at once (1..4096, default 32): concurrent generate()/stream()
     * calls, and each row of a batch, join one running batch that takes one forward per step;
     * a call waits in the queue until its rows fit (a call with more rows runs alone).
     */
    maxBatchSize?: number;
    /**
     * Load an archive whose code uses operators outside localleap's allowlist (file, network,
     * process or serialisation operators, custom ops). Default false: such an archive is refused
     * with ModelUnsafeError. Set it only if you trust the file's author (docs/model-format.md).
     */
    trustModelCode?: boolean;
    /**
     * Longest the probe forward at load may take, in ms (1..2^31 - 1, default 60000). A probe
     * that does not return in time (a model whose code loops) rejects with ModelProbeError; the
     * model is abandoned: its native thread stays busy until the forward returns, which a
     * scripted loop never does, so exit such a process with process.exit().
     */
    probeTimeoutMs?: number;
    /** Strategy "apd" (docs/decoding.md "APD"): the causal LM that verifies the dLLM's drafts; its vocabulary is checked at load (ApdVocabMismatchError). */
    apd?: ApdLoadOptions;
}

/** The KV-cache modes of {@link CommonGenerateOptions.cache}. */
export const CACHE_MODES = ["none", "prefix", "dual"] as const satisfies readonly CacheMode[];

/**
 * The cache a format-v2 model uses when generate() does not say: see docs/decoding.md "KV cache"
 * for the measurements behind it.
 */
export const DEFAULT_CACHE: CacheMode = "dual";

/** Default of {@link LoadModelOptions.maxQueuedGenerations}. */
export const DEFAULT_MAX_QUEUED_GENERATIONS = 1024;

/** Default of {@link LoadModelOptions.maxBatchSize}: rows decoded at once by the model's scheduler. */
export const DEFAULT_MAX_BATCH_SIZE = 32;

/** Default of {@link LoadModelOptions.probeTimeoutMs}: a probe is a few 8-token forwards, far below this on any device. */
export const DEFAULT_PROBE_TIMEOUT_MS = 60000;

/** What every strategy accepts (see {@link GenerateOptions}). */
export interface CommonGenerateOptions {
    /** Tokens to generate (the canvas): 1..65536, a multiple of blockLength. Default 128. */
    genLength?: number;
    /** Block length: divides genLength. Default 32, or genLength when genLength < 32. */
    blockLength?: number;
    /** Sampling temperature: 0 (default) is greedy, else a finite number from 1e-3. */
    temperature?: number;
    /** Seed, an integer in [0, 2^53 - 1]. Default 0, or a fresh one when temperature > 0 (reported in the result). */
    seed?: number;
    /** Stop after the first block that holds an end token. Default false. */
    stopAtEos?: boolean;
    /**
     * End-of-text prediction (Learn2PD's EoTP, docs/decoding.md "Ending early"): a row stops at
     * the step that commits an end token with every position before it decoded, even mid-block;
     * the rest of the canvas is filled with the end token. Finer than stopAtEos (it implies it).
     * Default false.
     */
    endOfText?: boolean;
    /** Replay steps as CUDA graphs on CUDA (falls back to eager, with a reason in the result). Default true; ignored on CPU. */
    cudaGraph?: boolean;
    /**
     * KV cache (docs/decoding.md "KV cache"): "none" runs the whole canvas every step; "prefix"
     * and "dual" run a block's first step whole and its later steps on the block (and, for
     * "prefix", everything after it) against the cached keys/values. Default
     * {@link DEFAULT_CACHE} on format-v2 archives, "none" on v1 archives (which cannot cache:
     * asking one for "prefix" or "dual" gives CacheUnsupportedError).
     */
    cache?: CacheMode;
    /**
     * AdaBlock's adaptive block length (docs/decoding.md "Adaptive blocks"): at each block's first
     * step, the block ends at the most confident predicted delimiter (the model's `delimiterIds`,
     * newline for the exported models) within `window` positions of the block start, when its
     * confidence reaches `delimiterThreshold`; otherwise it has blockLength positions (the default
     * length, clipped to the end: genLength need not be a multiple of it). `true` takes the
     * defaults: window floor(genLength / 4) (at least 1; at most 1024), delimiterThreshold the
     * model's localleap.json `delimiterThreshold`, else 0.3. With low-confidence / random, each
     * block takes max(1, floor(length * steps / genLength)) steps. Needs an archive with
     * delimiterIds (AdaptiveBlockUnsupportedError otherwise). With cache "prefix" / "dual" a call
     * takes one prompt (a batch without an explicit cache runs with "none"). Not with strategy
     * "apd", which has no blocks to size (InvalidOptionsError). Default false.
     */
    adaptiveBlock?: boolean | AdaptiveBlockOptions;
    /** Aborts generation before its next step (rejects with AbortError). */
    signal?: AbortSignal;
    /** Called after every step with what it committed and the canvas so far. */
    onStep?: (event: StepEvent) => void;
    /**
     * Called with each piece of final text, in order, as soon as it is final: the positions it
     * covers are committed and so is everything before them (ready to write to an SSE stream).
     * The chunks of a call join to its result's text.
     */
    onTextChunk?: (chunk: TextChunk) => void;
    /** How a still-masked position shows in StepEvent.text. Default "░". */
    maskGlyph?: string;
    /**
     * Send a string prompt as it is (completion). Default false: when the model has a chat
     * template, a string is the user's message, rendered with the template.
     */
    raw?: boolean;
    /**
     * Read special-token texts in string prompts and message contents (e.g. "<|eot_id|>") as
     * those tokens. Default false: user text is text, and only the chat template writes special
     * tokens, so that a user cannot fake a turn. Only for prompts you wrote yourself.
     */
    specialTokens?: boolean;
    /**
     * Stop strings: the text ends before the first one generated (finishReason "stop"), and the
     * decode ends as soon as that part of the text is final.
     */
    stop?: string | readonly string[];
    /** Most tokens of text to return (1..genLength); the decode ends once they are final (finishReason "max-tokens"). */
    maxTokens?: number;
}

/** The object form of {@link CommonGenerateOptions.adaptiveBlock}. */
export interface AdaptiveBlockOptions {
    /** Positions past the block start searched for a delimiter: an integer from 1 to 1024. Default floor(genLength / 4), at least 1. */
    window?: number;
    /** Confidence a delimiter needs to end the block, in [0, 1]. Default the model's delimiterThreshold, else 0.3. */
    delimiterThreshold?: number;
}

/** Largest adaptiveBlock.window (the commit kernel decides a block of at most 1024 positions in one CTA). */
export const MAX_ADAPTIVE_WINDOW = 1024;

/** Default delimiterThreshold when the model's metadata has none (AdaBlock's LLaDA value). */
export const DEFAULT_DELIMITER_THRESHOLD = 0.3;

/**
 * The type of an option that belongs to other strategies: never set in practice, it makes the
 * type checker say which strategy the option needs ("Type 'number' is not assignable to type
 * 'only with strategy "threshold"'"), instead of the "not assignable to type 'undefined'" of a
 * `never` field.
 */
export type OnlyWithStrategy<S extends string> = `only with strategy ${S}`;

/** 'localleap' (the default): anchors plus relaxed neighbours (docs/decoding.md). */
export interface LocalLeapOptions extends CommonGenerateOptions {
    strategy?: "localleap";
    /** Anchor threshold κ in [0, 1]. Default 0.9. */
    anchorThreshold?: number;
    /** Relaxed threshold τ in [0, anchorThreshold]. Default min(0.75, anchorThreshold). */
    relaxedThreshold?: number;
    /** Neighbourhood radius W (integer >= 0) around anchors. Default 4. */
    radius?: number;
    steps?: OnlyWithStrategy<'"low-confidence" or "random"'>;
    threshold?: OnlyWithStrategy<'"threshold"'>;
    acceptThreshold?: OnlyWithStrategy<'"learned"'>;
}

/** 'threshold' (Fast-dLLM): every masked position whose confidence passes θ. */
export interface ThresholdOptions extends CommonGenerateOptions {
    strategy: "threshold";
    /** Confidence threshold θ in [0, 1]. Default 0.9. */
    threshold?: number;
    steps?: OnlyWithStrategy<'"low-confidence" or "random"'>;
    anchorThreshold?: OnlyWithStrategy<'"localleap"'>;
    relaxedThreshold?: OnlyWithStrategy<'"localleap"'>;
    radius?: OnlyWithStrategy<'"localleap"'>;
    acceptThreshold?: OnlyWithStrategy<'"learned"'>;
}

/**
 * 'learned' (Learn2PD, docs/decoding.md "Learned filter"): the most confident masked position
 * plus every one the archive's learned filter accepts (sigmoid(logit) > acceptThreshold). Needs
 * an archive with a learned_filter.json (LearnedFilterError LEARNED_FILTER_MISSING otherwise) and
 * a blockLength up to the filter's.
 */
export interface LearnedOptions extends CommonGenerateOptions {
    strategy: "learned";
    /** Accept threshold t in [0, 1]: 1 commits only the top-1, 0 every masked position. Default: the filter's stored value (0.96 if it has none). */
    acceptThreshold?: number;
    steps?: OnlyWithStrategy<'"low-confidence" or "random"'>;
    threshold?: OnlyWithStrategy<'"threshold"'>;
    anchorThreshold?: OnlyWithStrategy<'"localleap"'>;
    relaxedThreshold?: OnlyWithStrategy<'"localleap"'>;
    radius?: OnlyWithStrategy<'"localleap"'>;
}

/** 'apd' (adaptive parallel decoding, docs/decoding.md "APD"): needs loadModel's apd.arModelPath. */
export interface ApdOptions extends CommonGenerateOptions {
    strategy: "apd";
    /** R in [0, 1]: the dLLM's share of the mixture (higher accepts more). Default 0.7. */
    mixtureWeight?: number;
    /**
     * W: the dLLM's recompute window over its KV cache, an integer >= 1, or null for no dLLM cache. Default 16.
     * null was the faster choice for large GPU batches of the embedded model (docs/BENCHMARKS.md §12), 16 at batch 1 on the CPU.
     */
    kvWindow?: number | null;
    /**
     * M: masked positions the dLLM sees and drafts per step, an integer >= 1. Default 100.
     * Smaller is cheaper per step, but cost accuracy on the embedded model (M 25: 45 % vs 100 % on 40 problems, docs/BENCHMARKS.md §12).
     */
    maxLookahead?: number;
    steps?: OnlyWithStrategy<'"low-confidence" or "random"'>;
    threshold?: OnlyWithStrategy<'"threshold"'>;
    anchorThreshold?: OnlyWithStrategy<'"localleap"'>;
    relaxedThreshold?: OnlyWithStrategy<'"localleap"'>;
    radius?: OnlyWithStrategy<'"localleap"'>;
    acceptThreshold?: OnlyWithStrategy<'"learned"'>;
}

/** 'low-confidence' and 'random' (LLaDA's baselines): a fixed number of tokens per step. */
export interface ScheduledOptions extends CommonGenerateOptions {
    strategy: "low-confidence" | "random";
    /**
     * Total steps: a multiple of genLength / blockLength, at most genLength. Default genLength
     * (one token per step).
     */
    steps?: number;
    threshold?: OnlyWithStrategy<'"threshold"'>;
    anchorThreshold?: OnlyWithStrategy<'"localleap"'>;
    relaxedThreshold?: OnlyWithStrategy<'"localleap"'>;
    radius?: OnlyWithStrategy<'"localleap"'>;
    acceptThreshold?: OnlyWithStrategy<'"learned"'>;
}

/**
 * Options of {@link Model.generate}, one shape per strategy: a strategy's own options are
 * rejected with the others (e.g. `steps` with 'localleap'), by the type checker and at run time,
 * rather than silently ignored, so that a run never looks configured when it is not.
 */
export type GenerateOptions = LocalLeapOptions | ThresholdOptions | ScheduledOptions | LearnedOptions | ApdOptions;

/** Omit over each member of a union (TypeScript's Omit merges the members). */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Options of {@link Model.stream}: generate's, less the callbacks the stream stands for. */
export type StreamOptions = DistributiveOmit<GenerateOptions, "onStep" | "onTextChunk">;

/** Every option name of any strategy. */
export type GenerateOptionName = keyof LocalLeapOptions | keyof ThresholdOptions | keyof ScheduledOptions | keyof LearnedOptions | keyof ApdOptions;

/** GenerateOptions with every default filled in. */
export interface ResolvedGenerateOptions {
    genLength: number;
    blockLength: number;
    strategy: Strategy;
    steps: number;
    threshold: number;
    anchorThreshold: number;
    relaxedThreshold: number;
    radius: number;
    /** Strategy "learned": t (the option, else the filter's stored value, else 0.96). */
    acceptThreshold: number;
    temperature: number;
    seed: number;
    stopAtEos: boolean;
    endOfText: boolean;
    cudaGraph: boolean;
    /** undefined: the model's default (DEFAULT_CACHE, or "none" for a v1 archive). */
    cache?: CacheMode;
    /** null: fixed blocks. */
    adaptiveBlock: { window: number; delimiterThreshold: number } | null;
    signal?: AbortSignal;
    onStep?: (event: StepEvent) => void;
    onTextChunk?: (chunk: TextChunk) => void;
    maskGlyph: string;
    raw: boolean;
    specialTokens: boolean;
    /** Non-empty stop strings, [] for none. */
    stop: string[];
    /** null: no cap. */
    maxTokens: number | null;
    /** Strategy apd: R, W (null: no dLLM cache), M (the defaults otherwise, unused). */
    mixtureWeight: number;
    kvWindow: number | null;
    maxLookahead: number;
}

/** LoadModelOptions with defaults filled in (modelPath is resolved by loadModel). */
export interface ResolvedLoadModelOptions {
    modelPath?: string;
    tokenizerPath?: string;
    device: DeviceOption;
    threads: number;
    signal?: AbortSignal;
    onProgress?: (progress: LoadProgress) => void;
    maxQueuedGenerations: number;
    maxBatchSize: number;
    trustModelCode: boolean;
    probeTimeoutMs: number;
    apd?: ApdLoadOptions;
}

/** @internal What each loadModel option accepts, for error messages (the pool's options reuse it). */
export const LOAD_ALLOWED: Record<keyof LoadModelOptions, string> = {
    modelPath: "a non-empty path string",
    tokenizerPath: "a non-empty path string",
    device: '"cpu", "cuda" (GPU 0), "cuda:N" (GPU N) or "auto"',
    threads: `an integer from 0 to ${MAX_THREADS} (0 keeps libtorch's default)`,
    signal: "an AbortSignal",
    onProgress: "a function",
    maxQueuedGenerations: "an integer from 1 to 100000",
    maxBatchSize: "an integer from 1 to 4096",
    trustModelCode: "true or false",
    probeTimeoutMs: "an integer from 1 to 2147483647 (milliseconds)",
    apd: "an object { arModelPath?: a non-empty path string } (strategy apd's causal LM; {} with the embedded model: its own)",
};

const GENERATE_ALLOWED: Record<GenerateOptionName, string> = {
    genLength: `an integer from 1 to ${MAX_GEN_LENGTH}`,
    blockLength: `an integer from 1 to ${MAX_GEN_LENGTH} that divides genLength`,
    strategy: STRATEGIES.map((s) => `"${s}"`).join(", "),
    steps: "an integer from genLength / blockLength to genLength, a multiple of genLength / blockLength",
    threshold: "a number from 0 to 1",
    anchorThreshold: "a number from 0 to 1",
    relaxedThreshold: "a number from 0 to 1, at most anchorThreshold",
    radius: `an integer from 0 to ${MAX_GEN_LENGTH}`,
    acceptThreshold: "a number from 0 to 1",
    temperature: `0 (greedy) or a finite number from ${MIN_TEMPERATURE}`,
    seed: "an integer from 0 to 2^53 - 1",
    stopAtEos: "true or false",
    endOfText: "true or false",
    cudaGraph: "true or false",
    cache: CACHE_MODES.map((c) => `"${c}"`).join(", "),
    adaptiveBlock: `true, false or { window?: an integer from 1 to ${MAX_ADAPTIVE_WINDOW}, delimiterThreshold?: a number from 0 to 1 }`,
    signal: "an AbortSignal",
    onStep: "a function (event) => void",
    onTextChunk: "a function (chunk) => void",
    maskGlyph: "a string",
    raw: "true or false",
    specialTokens: "true or false",
    stop: "a non-empty string or an array of up to 16 non-empty strings",
    maxTokens: "an integer from 1 to genLength",
    mixtureWeight: "a number from 0 to 1",
    kvWindow: `an integer from 1 to ${MAX_GEN_LENGTH}, or null (no dLLM KV cache)`,
    maxLookahead: `an integer from 1 to ${MAX_GEN_LENGTH}`,
};

const isFunction = (value: unknown): value is (...args: never[]) => unknown => typeof value === "function";

/** "cuda:N": a GPU by index, N a plain decimal integer below 10000 (no sign, no leading zeros). */
export const CUDA_INDEX = /^cuda:(0|[1-9][0-9]{0,3})$/;

/** @internal The loadModel options schema (the pool's options extend it). */
export const loadModelSchema = z.strictObject({
    modelPath: z.string().min(1).optional(),
    tokenizerPath: z.string().min(1).optional(),
    device: z.union([z.enum(["cpu", "cuda", "auto"]), z.custom<CudaDeviceIndex>((v) => typeof v === "string" && CUDA_INDEX.test(v))]).default("auto"),
    threads: z.number().int().min(0).max(MAX_THREADS).default(0),
    signal: z.instanceof(AbortSignal).optional(),
    onProgress: z.custom<(progress: LoadProgress) => void>(isFunction).optional(),
    maxQueuedGenerations: z.number().int().min(1).max(100000).default(DEFAULT_MAX_QUEUED_GENERATIONS),
    maxBatchSize: z.number().int().min(1).max(4096).default(DEFAULT_MAX_BATCH_SIZE),
    trustModelCode: z.boolean().default(false),
    probeTimeoutMs: z.number().int().min(1).max(2 ** 31 - 1).default(DEFAULT_PROBE_TIMEOUT_MS),
    apd: z.strictObject({ arModelPath: z.string().min(1).optional() }).optional(),
});

const unit = () => z.number().min(0).max(1);

const generateSchema = z.strictObject({
    genLength: z.number().int().min(1).max(MAX_GEN_LENGTH).default(128),
    blockLength: z.number().int().min(1).max(MAX_GEN_LENGTH).optional(),
    strategy: z.enum(["low-confidence", "random", "threshold", "localleap", "learned", "apd"]).default("localleap"),
    steps: z.number().int().min(1).max(MAX_GEN_LENGTH).optional(),
    threshold: unit().optional(),
    anchorThreshold: unit().optional(),
    relaxedThreshold: unit().optional(),
    radius: z.number().int().min(0).max(MAX_GEN_LENGTH).optional(),
    acceptThreshold: unit().optional(),
    temperature: z.number().min(0).refine((t) => t === 0 || (t >= MIN_TEMPERATURE && Number.isFinite(t))).default(0),
    seed: z.number().int().min(0).max(MAX_SEED).optional(),
    stopAtEos: z.boolean().default(false),
    endOfText: z.boolean().default(false),
    cudaGraph: z.boolean().default(true),
    cache: z.enum(CACHE_MODES).optional(),
    adaptiveBlock: z
        .union([z.boolean(), z.strictObject({ window: z.number().int().min(1).max(MAX_ADAPTIVE_WINDOW).optional(), delimiterThreshold: unit().optional() })])
        .optional(),
    signal: z.instanceof(AbortSignal).optional(),
    onStep: z.custom<(event: StepEvent) => void>(isFunction).optional(),
    onTextChunk: z.custom<(chunk: TextChunk) => void>(isFunction).optional(),
    maskGlyph: z.string().default("░"),
    raw: z.boolean().default(false),
    specialTokens: z.boolean().default(false),
    stop: z.union([z.string().min(1), z.array(z.string().min(1)).max(16).readonly()]).optional(),
    maxTokens: z.number().int().min(1).max(MAX_GEN_LENGTH).optional(),
    mixtureWeight: unit().optional(),
    kvWindow: z.number().int().min(1).max(MAX_GEN_LENGTH).nullable().optional(),
    maxLookahead: z.number().int().min(1).max(MAX_GEN_LENGTH).optional(),
});

// The hand-written interfaces above carry the docs; these lines keep them in step with the schemas.
type Exact<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const loadTypesMatch: Exact<Required<LoadModelOptions>, Required<z.input<typeof loadModelSchema>>> = true;
const generateKeysMatch: Exact<GenerateOptionName, keyof z.input<typeof generateSchema>> = true;
void loadTypesMatch;
void generateKeysMatch;

/** Validates loadModel options; throws {@link InvalidOptionsError} listing every bad field. */
export function parseLoadModelOptions(options: unknown): ResolvedLoadModelOptions {
    const { signal, onProgress, modelPath, tokenizerPath, ...rest } = parseWith(loadModelSchema, options, "loadModel options", LOAD_ALLOWED);
    return {
        ...rest,
        ...(modelPath !== undefined && { modelPath }),
        ...(tokenizerPath !== undefined && { tokenizerPath }),
        ...(signal !== undefined && { signal }),
        ...(onProgress !== undefined && { onProgress }),
    };
}

/** The built-in decoding defaults, used when neither the caller nor the model's decodingDefaults set a field. */
export const BUILTIN_DECODING_DEFAULTS = {
    localleap: { anchorThreshold: 0.9, relaxedThreshold: 0.75, radius: 4 },
    threshold: { threshold: 0.9 },
} as const;

/**
 * Validates generate options and fills in defaults; throws {@link InvalidOptionsError} listing
 * every bad field. `randomSeed` supplies the seed when temperature > 0 and none is given.
 * `modelDefaults` (a model's localleap.json `decodingDefaults`, which generate() passes) fills
 * each strategy parameter the options leave out, field by field, before the built-in defaults:
 * κ = anchorThreshold ?? model κ ?? 0.9, τ = relaxedThreshold ?? min(model τ ?? 0.75, κ),
 * W = radius ?? model W ?? 4, θ = threshold ?? model θ ?? 0.9.
 * `modelDelimiterThreshold` (localleap.json `delimiterThreshold`) is adaptiveBlock's default
 * delimiterThreshold, before {@link DEFAULT_DELIMITER_THRESHOLD}.
 * W = radius ?? model W ?? 4, θ = threshold ?? model θ ?? 0.9; `filterAcceptThreshold` (the
 * archive's learned filter's stored t) likewise: acceptThreshold ?? filter t ?? 0.96.
 */
export function parseGenerateOptions(
    options: unknown,
    randomSeed: () => number = defaultRandomSeed,
    modelDefaults?: DecodingDefaults,
    modelDelimiterThreshold?: number,
    filterAcceptThreshold?: number,
): ResolvedGenerateOptions {
    const o = parseWith(generateSchema, options, "generate options", GENERATE_ALLOWED);
    const issues: OptionIssue[] = [];
    const issue = (field: GenerateOptionName, allowed: string, message: string) =>
        issues.push({ field, given: formatValue(o[field]), allowed, message });

    const apd = o.strategy === "apd";
    // APD decodes left to right in one block: the generation span (docs/decoding.md "APD").
    const blockLength = o.blockLength ?? (apd ? o.genLength : Math.min(32, o.genLength));
    if (apd && blockLength !== o.genLength) {
        issue("blockLength", "genLength, or left out, with strategy apd",
            `strategy "apd" decodes left to right in one block: blockLength must be genLength (${o.genLength}) or left out, got ${blockLength}`);
    }
    if (apd && o.cache !== undefined) {
        issue("cache", 'not with strategy "apd"', 'cache applies to the block strategies; strategy "apd" has kvWindow (the dLLM\'s cache) and always caches the causal LM');
    }
    for (const field of ["mixtureWeight", "kvWindow", "maxLookahead"] as const) {
        if (o[field] !== undefined && !apd) {
            issue(field, 'only with strategy "apd"', `${field} applies only to strategy "apd", not "${o.strategy}"; drop it or set strategy: "apd"`);
        }
    }
    const adaptive = o.adaptiveBlock === undefined || o.adaptiveBlock === false ? null : o.adaptiveBlock === true ? {} : o.adaptiveBlock;
    // APD has no blocks to size: its cursor accepts a prefix of its draft at every step.
    if (apd && adaptive !== null) {
        issue("adaptiveBlock", 'false or left out with strategy "apd"',
            'adaptiveBlock sizes the blocks of the block strategies; strategy "apd" decodes left to right in one block (its accept rule decides how far each step goes): drop adaptiveBlock or use another strategy');
    }
    // Adaptive blocks: blockLength is the default length and the last block is clipped to the end.
    if (!apd && adaptive === null && o.genLength % blockLength !== 0) {
        const field = o.blockLength === undefined ? "genLength" : "blockLength";
        issue(
            field,
            "genLength a multiple of blockLength",
            `genLength (${o.genLength}) is not a multiple of blockLength (${blockLength}${o.blockLength === undefined ? ", the default" : ""}); ` +
                `use a blockLength that divides ${o.genLength} (e.g. ${divisorsNear(o.genLength, 32).join(", ")}) or a genLength that is a multiple of ${blockLength}`,
        );
    }

    const usesSteps = o.strategy === "low-confidence" || o.strategy === "random";
    const numBlocks = Math.max(1, Math.floor(o.genLength / blockLength));
    if (o.steps !== undefined && !usesSteps) {
        issue("steps", "only with strategy low-confidence or random",
            `steps applies only to strategy "low-confidence" or "random"; "${o.strategy}" runs each block until it has no mask left, so drop steps or change strategy`);
    } else if (o.steps !== undefined && adaptive !== null && o.steps > o.genLength) {
        issue("steps", `with adaptiveBlock, an integer from 1 to genLength`,
            `steps: got ${o.steps}; allowed with adaptiveBlock: an integer from 1 to genLength (${o.genLength}) (each block takes max(1, floor(length * steps / genLength)) steps)`);
    } else if (o.steps !== undefined && adaptive === null && issues.length === 0 && (o.steps % numBlocks !== 0 || o.steps > o.genLength)) {
        issue("steps", GENERATE_ALLOWED.steps,
            `steps: got ${o.steps}; allowed: a multiple of genLength / blockLength = ${numBlocks} from ${numBlocks} to ${o.genLength} (the number of blocks must divide the steps)`);
    }
    const exclusive: [GenerateOptionName, Strategy][] = [
        ["threshold", "threshold"],
        ["anchorThreshold", "localleap"],
        ["relaxedThreshold", "localleap"],
        ["radius", "localleap"],
        ["acceptThreshold", "learned"],
    ];
    for (const [field, owner] of exclusive) {
        if (o[field] !== undefined && o.strategy !== owner) {
            issue(field, `only with strategy "${owner}"`, `${field} applies only to strategy "${owner}", not "${o.strategy}"; drop it or set strategy: "${owner}"`);
        }
    }
    const builtin = BUILTIN_DECODING_DEFAULTS;
    const model = { localleap: modelDefaults?.localleap ?? {}, threshold: modelDefaults?.threshold ?? {} };
    const anchorThreshold = o.anchorThreshold ?? model.localleap.anchorThreshold ?? builtin.localleap.anchorThreshold;
    const relaxedThreshold = o.relaxedThreshold ?? Math.min(model.localleap.relaxedThreshold ?? builtin.localleap.relaxedThreshold, anchorThreshold);
    if (relaxedThreshold > anchorThreshold) {
        const whose = o.anchorThreshold !== undefined ? "" : model.localleap.anchorThreshold !== undefined ? ", the model's default" : ", the default";
        issue("relaxedThreshold", GENERATE_ALLOWED.relaxedThreshold,
            `relaxedThreshold (${relaxedThreshold}) must be at most anchorThreshold (${anchorThreshold}${whose}): τ relaxes κ near anchors`);
    }
    if (o.maxTokens !== undefined && o.maxTokens > o.genLength) {
        issue("maxTokens", GENERATE_ALLOWED.maxTokens,
            `maxTokens: got ${o.maxTokens}; allowed: an integer from 1 to genLength (${o.genLength}): raise genLength or lower maxTokens`);
    }
    if (issues.length > 0) throw new InvalidOptionsError("generate options", issues);

    const seed = o.seed ?? (o.temperature > 0 ? randomSeed() : 0);
    return {
        genLength: o.genLength,
        blockLength,
        strategy: o.strategy,
        steps: usesSteps ? (o.steps ?? o.genLength) : o.genLength,
        threshold: o.threshold ?? model.threshold.threshold ?? builtin.threshold.threshold,
        anchorThreshold,
        relaxedThreshold,
        radius: o.radius ?? model.localleap.radius ?? builtin.localleap.radius,
        acceptThreshold: o.acceptThreshold ?? filterAcceptThreshold ?? DEFAULT_ACCEPT_THRESHOLD,
        temperature: o.temperature,
        seed,
        stopAtEos: o.stopAtEos,
        endOfText: o.endOfText,
        cudaGraph: o.cudaGraph,
        ...(o.cache !== undefined && { cache: o.cache }),
        adaptiveBlock:
            adaptive === null
                ? null
                : {
                      window: adaptive.window ?? Math.min(MAX_ADAPTIVE_WINDOW, Math.max(1, Math.floor(o.genLength / 4))),
                      delimiterThreshold: adaptive.delimiterThreshold ?? modelDelimiterThreshold ?? DEFAULT_DELIMITER_THRESHOLD,
                  },
        ...(o.signal !== undefined && { signal: o.signal }),
        ...(o.onStep !== undefined && { onStep: o.onStep }),
        ...(o.onTextChunk !== undefined && { onTextChunk: o.onTextChunk }),
        maskGlyph: o.maskGlyph,
        raw: o.raw,
        specialTokens: o.specialTokens,
        stop: o.stop === undefined ? [] : typeof o.stop === "string" ? [o.stop] : [...o.stop],
        maxTokens: o.maxTokens ?? null,
        mixtureWeight: o.mixtureWeight ?? APD_DEFAULTS.mixtureWeight,
        kvWindow: o.kvWindow === undefined ? APD_DEFAULTS.kvWindow : o.kvWindow,
        maxLookahead: o.maxLookahead ?? APD_DEFAULTS.maxLookahead,
    };
}

/**
 * @internal The parsed options, or an InvalidOptionsError listing every bad field. Options that cannot be
 * read (a throwing getter or Proxy trap) are an InvalidOptionsError too, not whatever they threw.
 */
export function parseWith<S extends z.ZodType>(schema: S, options: unknown, what: string, allowed: Record<string, string>): z.output<S> {
    let issues: OptionIssue[];
    try {
        const parsed = schema.safeParse(options ?? {});
        if (parsed.success) return parsed.data;
        issues = formatZodIssues(parsed.error.issues, options, allowed);
    } catch (error) {
        const message = `the ${what} could not be read: ${(error as Error)?.message ?? String(error)}`;
        issues = [{ field: "", given: "an object that throws when read", allowed: "a plain object", message }];
    }
    throw new InvalidOptionsError(what, issues);
}

function defaultRandomSeed(): number {
    // 53 random bits from two 32-bit draws keep every seed representable exactly.
    const high = Math.floor(Math.random() * 2 ** 21);
    const low = Math.floor(Math.random() * 2 ** 32);
    return high * 2 ** 32 + low;
}

/** Up to four divisors of n closest to `near`, ascending. */
function divisorsNear(n: number, near: number): number[] {
    const divisors: number[] = [];
    for (let d = 1; d <= n; d++) if (n % d === 0) divisors.push(d);
    return divisors
        .sort((a, b) => Math.abs(a - near) - Math.abs(b - near) || a - b)
        .slice(0, 4)
        .sort((a, b) => a - b);
}
