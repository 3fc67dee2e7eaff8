/**
 * The whole surface of the native addon (native/bindings), typed in one place.
 * Nothing outside lib/bindings talks to the addon except through these types.
 */

/** Where a model runs. */
export type AddonDevice = "cpu" | "cuda";

/** What the addon's loadModel accepts: "cuda" is GPU 0, "cuda:N" GPU N. */
export type AddonDeviceRequest = AddonDevice | `cuda:${number}`;

/** Element type of a model's weights and logits. */
export type AddonDType = "float32" | "bfloat16" | "float16";

/** The six strategies of docs/decoding.md: five commit rules and APD. */
export type AddonStrategy = "low-confidence" | "random" | "threshold" | "localleap" | "learned" | "apd";

/** What the loaded binary was built with and what it sees at run time. */
export interface AddonBuildInfo {
    /** "cuda" when the binary has the CUDA back end compiled in. */
    variant: "cpu" | "cuda";
    /** libtorch version the binary was compiled against, e.g. "1.13.1" or "2.11.0". */
    torchVersion: string;
    /** CUDA toolkit version the binary was compiled with ("" for the CPU variant). */
    cudaVersion: string;
    /** Whether libtorch can use a CUDA device now. */
    cudaAvailable: boolean;
    cudaDeviceCount: number;
    /** Name of CUDA device 0, "" when there is none. */
    cudaDeviceName: string;
    /** Threads libtorch's intra-op pool uses by default on this machine. */
    defaultThreads: number;
    /** SHA-256 of the native sources it was built from ("" for node-gyp builds); see nativeSourceHash. */
    sourceHash: string;
}

/** Cancels native work: generation stops before its next step, loading before its next read. */
export interface AddonAbortToken {
    abort(): void;
    readonly aborted: boolean;
}

export interface AddonLoadProgress {
    stage: "reading";
    bytesRead: number;
    totalBytes: number;
}

export interface AddonLoadRequest {
    path: string;
    device: AddonDeviceRequest;
    /** Intra-op threads for this model's worker thread; 0 keeps libtorch's default. */
    threads: number;
    /** Rows the model's scheduler decodes at once (LoadModelOptions.maxBatchSize); default 32. */
    maxBatchSize?: number;
    /** Skip the operator allowlist checks (LoadModelOptions.trustModelCode); default false. */
    trustModelCode?: boolean;
    /** APD's causal LM (LoadModelOptions.apd.arModelPath): read on the same worker thread, onto the same device. */
    arPath?: string;
    abort?: AddonAbortToken;
    /** Called on the JS thread while the archive is read. */
    onProgress?: (progress: AddonLoadProgress) => void;
}

/** The raw contents of a loaded archive; the TS layer validates the metadata. */
export interface AddonLoadResult {
    model: AddonModel;
    /** Extra file localleap.json, "" when absent. */
    metadataJson: string;
    /** Extra file tokenizer.json, "" when absent. */
    tokenizerJson: string;
    /** Extra file tokenizer_config.json, "" when absent. */
    tokenizerConfigJson: string;
    /** Extra file learned_filter.json (docs/decoding.md "Learned filter"), "" when absent. */
    learnedFilterJson: string;
    fileBytes: number;
    /** Names of the TorchScript methods found: forward, logits_at, logits_at_padded. */
    methods: string[];
    /** APD's causal LM archive, when arPath was given: its localleap.json, tokenizer.json and methods. */
    ar?: { metadataJson: string; tokenizerJson: string; methods: string[] };
}

/** The validated metadata the engine needs, passed once after loading. */
export interface AddonModelConfig {
    vocabSize: number;
    maskId: number;
    eosId: number;
    endIds: number[];
    padId: number;
    logitsShifted: boolean;
    maxLength: number;
    /** Format v2's KV-cache sizes; absent for a v1 archive (cache "none" only). */
    kvCache?: { layers: number; kvHeads: number; headDim: number };
    /** APD's causal LM: its metadata and the shared width V' of the vocabulary check. */
    ar?: { vocabSize: number; eosId: number; maxLength: number; vocabWidth: number; kvCache: { layers: number; kvHeads: number; headDim: number } };
    /** AdaBlock's delimiter token ids (localleap.json delimiterIds); absent: no adaptive blocks. */
    delimiterIds?: number[];
    /** The archive's learned filter (strategy "learned"); absent when it has none. */
    learnedFilter?: AddonLearnedFilter;
}

/** A learned filter's weights, row-major float32: w1 [hidden][blockLength], w2 [blockLength][hidden]. */
export interface AddonLearnedFilter {
    blockLength: number;
    hidden: number;
    w1: Float32Array;
    b1: Float32Array;
    w2: Float32Array;
    b2: Float32Array;
}

/** Fast-dLLM's KV caches (docs/decoding.md "KV cache"). */
export type AddonCacheMode = "none" | "prefix" | "dual";

export interface AddonModelInfo {
    device: AddonDevice;
    /** The GPU the model runs on (its index among the visible ones and its name); null on the CPU. */
    gpu: { index: number; name: string } | null;
    /** dtype of the logits the probe forward returned. */
    dtype: AddonDType;
    /** Bytes of parameters and buffers. */
    parameterBytes: number;
    /** KV-cache bytes per canvas position of one row (layers x 2 x kvHeads x headDim x dtype bytes); 0 for a v1 archive. */
    kvCacheBytesPerPosition: number;
}

/** One generation of one batch (rows decode independently, as if alone). */
export interface AddonGenerateRequest {
    /** Prompt token ids, one array per row. */
    prompts: Int32Array[];
    genLength: number;
    blockLength: number;
    strategy: AddonStrategy;
    /** Total steps for low-confidence and random (a multiple of genLength / blockLength). */
    steps: number;
    threshold: number;
    anchorThreshold: number;
    relaxedThreshold: number;
    radius: number;
    /** Strategy "learned": accept threshold t in [0, 1] on sigmoid(filter logit). */
    acceptThreshold?: number;
    temperature: number;
    /** One seed per row, integers in [0, 2^53). */
    seeds: number[];
    stopAtEos: boolean;
    /** End-of-text prediction: stop a row at the step that commits an end token with nothing masked before it; absent means false. */
    endOfText?: boolean;
    /** Capture each step as a CUDA graph (CUDA only; falls back to eager with a reason). */
    cudaGraph: boolean;
    /** KV cache; absent means "none". */
    cache?: AddonCacheMode;
    /**
     * AdaBlock's adaptive block length (docs/decoding.md "Adaptive blocks"), resolved: blockLength is
     * the default length. Absent: fixed blocks. Needs the config's delimiterIds.
     */
    adaptiveBlock?: { window: number; delimiterThreshold: number };
    abort?: AddonAbortToken;
    /** Set it to end the decode before its next step and resolve with the canvas as it is (masks left as the mask id). */
    finish?: AddonAbortToken;
    /** Called on the JS thread after every step, in order, when given. */
    onStep?: (event: AddonStepEvent) => void;
    /** Strategy apd: R, W (null: no dLLM cache), M. */
    mixtureWeight?: number;
    kvWindow?: number | null;
    maxLookahead?: number;
}

export interface AddonStepEvent {
    /** Index of the forward among those this call took part in, 0-based. */
    step: number;
    /** Block index of the call's first row, 0-based (rows move on independently: see rows[].block). */
    block: number;
    /** Per row: its block, and the generation-relative positions and tokens committed by this step. */
    rows: { block: number; positions: Int32Array; tokens: Int32Array }[];
}

export interface AddonRowResult {
    /** The whole generated span (genLength tokens), end-token padding included. */
    tokens: Int32Array;
    /** Forward passes this row took. */
    steps: number;
    /** Fixed blocks: one entry per block (0 for blocks skipped by stopAtEos); adaptive blocks: one per block decoded. */
    stepsPerBlock: Int32Array;
    /** The length of each block decoded, in order. */
    blockLengths: Int32Array;
    /** Strategy apd: dLLM forwards (= steps), causal-LM forwards and each step's accepted tokens. */
    dllmForwards?: number;
    arForwards?: number;
    acceptedPerStep?: Int32Array;
}

export interface AddonGenerateResult {
    rows: AddonRowResult[];
    /** Forward passes of the batch. */
    batchSteps: number;
    totalMs: number;
    /** Milliseconds spent in steps (forward + commit), excluding set-up. */
    stepMs: number;
    /** Steps that ran the whole canvas (every step without a cache; a block's first step with one) and their milliseconds. */
    fullSteps: number;
    fullStepMs: number;
    /** Steps that ran the cached window, and their milliseconds. */
    cachedSteps: number;
    cachedStepMs: number;
    /** Rows of every forward the call took part in, summed (the scheduler shares forwards between calls). */
    rowsInForwards?: number;
    /** Whether steps ran as replayed CUDA graphs. */
    cudaGraph: boolean;
    /** Why a requested CUDA graph was not used, "" otherwise. */
    cudaGraphFallbackReason: string;
}

/** Timing of the bare block forward (logits_at), synchronised per call like a step. */
export interface AddonForwardBenchRequest {
    batch: number;
    promptLength: number;
    genLength: number;
    blockLength: number;
    iterations: number;
    cudaGraph: boolean;
}

export interface AddonForwardBenchResult {
    medianMs: number;
    minMs: number;
    cudaGraph: boolean;
}

export interface AddonModel {
    /** Runs a probe forward and fixes the metadata the engine uses; rejects on mismatch. */
    configure(config: AddonModelConfig): Promise<AddonModelInfo>;
    generate(request: AddonGenerateRequest): Promise<AddonGenerateResult>;
    /** Times the bare forward of the current configuration (benchmarks). */
    benchForward(request: AddonForwardBenchRequest): Promise<AddonForwardBenchResult>;
    /** Finishes queued work, then frees the model. Later calls reject. */
    dispose(): Promise<void>;
    readonly disposed: boolean;
}

/** One application of the commit rule to given logits: a test hook for exactness checks. */
export interface AddonRuleCase {
    /** [batch, blockLength, vocabSize] logits: Float32Array for float32, Uint16Array bits otherwise. */
    logits: Float32Array | Uint16Array;
    dtype: AddonDType;
    batch: number;
    blockLength: number;
    vocabSize: number;
    /** [batch, blockLength] tokens of the current block; maskId marks masked positions. */
    block: Int32Array;
    maskId: number;
    strategy: AddonStrategy;
    /** k for low-confidence and random; ignored (1) for threshold and localleap. */
    topK: number;
    threshold: number;
    anchorThreshold: number;
    relaxedThreshold: number;
    radius: number;
    temperature: number;
    /** Per row. */
    seeds: number[];
    /** Per row: the row's step counter r. */
    rowSteps: number[];
    /** Generation position of the block's first position. */
    genOffset: number;
    /** Strategy "learned": accept threshold t (default 0.96). */
    acceptThreshold?: number;
    /** Strategy "learned": the filter (its blockLength at least the case's). */
    learnedFilter?: AddonLearnedFilter;
    /** Per-row overrides (one entry per row): rows of one step may mix strategies and parameters. */
    rows?: AddonRuleRowOverride[];
    /**
     * AdaBlock's length decision (docs/decoding.md "Adaptive blocks"), for every row: the case is a
     * block's first step over blockLength computed positions; the rule searches offsets < window for
     * a delimiter, else takes fallbackLength, and commits within the length (result.blockLengths).
     */
    adaptive?: { window: number; fallbackLength: number; delimiterIds: number[]; delimiterThreshold: number; steps?: number; genLength?: number };
}

/** What one row of an {@link AddonRuleCase} may set for itself. */
export interface AddonRuleRowOverride {
    strategy?: AddonStrategy;
    topK?: number;
    threshold?: number;
    anchorThreshold?: number;
    relaxedThreshold?: number;
    radius?: number;
    acceptThreshold?: number;
    temperature?: number;
    genOffset?: number;
}

export interface AddonRuleResult {
    /** [batch, blockLength] chosen tokens (for masked positions; -1 elsewhere). */
    tokens: Int32Array;
    /** [batch, blockLength] confidences (for masked positions; 0 elsewhere). */
    confidences: Float32Array;
    /** [batch, blockLength] 1 where committed. */
    commit: Uint8Array;
    /** [batch, blockLength] the block after the commit. */
    block: Int32Array;
    /** [batch] each row's block length as the rule decided it (blockLength without `adaptive`). */
    blockLengths: Int32Array;
}

/** Timing of the fused kernel on random logits (CUDA builds only). */
export interface AddonKernelBenchRequest {
    batch: number;
    blockLength: number;
    vocabSize: number;
    dtype: AddonDType;
    strategy: AddonStrategy;
    iterations: number;
    seed: number;
}

/**
 * APD's token choice (docs/decoding.md "APD", native/kernels/apd_accept.h chooseToken) for `count`
 * positions of given float32 logits: a test hook for the CUDA kernel's exactness. Without `za`
 * each task is a draft (the dLLM's logits alone); with it a target (their mixture). Task i's
 * Gumbel noise is that of (seed, rowStep, generation position i).
 */
export interface AddonApdTokensCase {
    count: number;
    width: number;
    /** Excluded from the choice; -1: none. */
    maskId: number;
    /** [count, width] the dLLM's logits. */
    zd: Float32Array;
    /** [count, width] the causal LM's logits (targets). */
    za?: Float32Array;
    mixtureWeight: number;
    temperature: number;
    seed: number;
    rowStep: number;
}

export interface AddonKernelBenchResult {
    /** Median milliseconds per kernel launch, CUDA events. */
    medianMs: number;
    minMs: number;
    /** Logit bytes read per launch. */
    bytes: number;
}

export interface Addon {
    buildInfo(): AddonBuildInfo;
    AbortToken: new () => AddonAbortToken;
    loadModel(request: AddonLoadRequest): Promise<AddonLoadResult>;
    applyRule(ruleCase: AddonRuleCase, device: AddonDevice): AddonRuleResult;
    /** One token id per task (-1: every id masked out). */
    applyApdTokens(apdCase: AddonApdTokensCase, device: AddonDevice): Int32Array;
    benchKernel(request: AddonKernelBenchRequest): AddonKernelBenchResult;
}

/** Error shape thrown or rejected by the addon: `code` is one of NativeErrorCode. */
export interface AddonError extends Error {
    code: NativeErrorCode;
    /** What the error names, when one thing: the metadata field, the extra file, the operator. */
    field?: string;
}

export type NativeErrorCode =
    | "INVALID_ARGUMENT"
    | "MODEL_NOT_FOUND"
    | "MODEL_CORRUPT"
    | "MODEL_INCOMPATIBLE"
    | "MODEL_METHOD_MISSING"
    | "MODEL_PROBE_FAILED"
    | "CACHE_UNSUPPORTED"
    | "ADAPTIVE_BLOCK_UNSUPPORTED"
    | "LEARNED_FILTER_INVALID"
    | "LEARNED_FILTER_MISSING"
    | "MODEL_UNSAFE"
    | "MODEL_METADATA_INVALID"
    | "TOKENIZER_INVALID"
    | "PROMPT_TOO_LONG"
    | "CUDA_UNAVAILABLE"
    | "OUT_OF_MEMORY"
    | "RESOURCE_EXHAUSTED"
    | "ABORTED"
    | "MODEL_DISPOSED"
    | "INTERNAL";
