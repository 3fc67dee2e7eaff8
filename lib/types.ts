/** Public types shared by the API (options and results live next to their schemas in options.ts). */

/** How a step picks which masked positions of the block to commit (docs/decoding.md). */
export type Strategy = "low-confidence" | "random" | "threshold" | "localleap" | "learned" | "apd";

/** Fast-dLLM's KV caches (docs/decoding.md "KV cache"). */
export type CacheMode = "none" | "prefix" | "dual";

/** A GPU by index among those the process sees (CUDA_VISIBLE_DEVICES applies first): "cuda:0", "cuda:1", ... */
export type CudaDeviceIndex = `cuda:${number}`;

/**
 * Where to run: 'auto' picks CUDA (GPU 0) when the loaded binary has it and a GPU is visible, else
 * CPU; 'cuda' is GPU 0; 'cuda:N' is GPU N.
 */
export type DeviceOption = "cpu" | "cuda" | "auto" | CudaDeviceIndex;

/** The device a model actually runs on. */
export type Device = "cpu" | "cuda";

/** Roles a chat message may have. */
export type ChatRole = "system" | "user" | "assistant";

/** One chat turn; a list of them is rendered with the model's chat template. */
export interface ChatMessage {
    /** Who speaks. */
    role: ChatRole;
    /** What is said. */
    content: string;
}

/**
 * A prompt: a string (the user's message through the model's chat template when it has one;
 * with `raw: true`, or for a model without a template, plain text, BOS added when the metadata
 * says `addBos`), token ids (used as they are), or chat messages (rendered with the chat
 * template, generation prompt added). Message and string text is always text: it never turns
 * into special tokens (docs/api.md "Prompts").
 */
export type GenerateInput = string | readonly number[] | Int32Array | readonly ChatMessage[];

/**
 * Why the text ends: 'eos' (an end token), 'stop' (a stop string), 'max-tokens' (the maxTokens
 * cap) or 'length' (the canvas is full).
 */
export type FinishReason = "eos" | "length" | "stop" | "max-tokens";

/** Wall-clock figures of one generate call. */
export interface GenerateTimings {
    /** Milliseconds of the native generate call (set-up, steps and copies). */
    totalMs: number;
    /** Milliseconds per forward step: time spent in steps / steps. */
    msPerStep: number;
    /**
     * Useful tokens per second: the generated tokens up to and including the first end token
     * (all genLength tokens when there is none) divided by totalMs. Padding after the end token
     * is not counted, so stopAtEos does not inflate the figure.
     */
    tokensPerSecond: number;
    /** Batch steps that ran the whole canvas: every step without a cache, each block's first step with one. */
    fullSteps: number;
    /** Milliseconds per full step (0 when there was none). */
    msPerFullStep: number;
    /** Batch steps that ran only the cached window (0 without a cache). */
    cachedSteps: number;
    /** Milliseconds per cached step (0 when there was none). */
    msPerCachedStep: number;
    /**
     * Mean rows per forward this call took part in: its own rows and those of concurrent calls the
     * scheduler decoded with it (docs/scheduler.md). 1 for a lone single-prompt call.
     */
    meanRowsPerForward: number;
}

/** What {@link Model.generate} resolves to. */
export interface GenerateResult {
    /** Decoded text of `tokens` (special tokens skipped); "" for a model without a tokenizer. */
    text: string;
    /**
     * Generated token ids, stopping before the first end token; with a stop string, up to and
     * including the token that completes it; with maxTokens, at most that many.
     */
    tokens: number[];
    /** Forward passes this generation took. */
    steps: number;
    /**
     * Forward passes of each block: with fixed blocks one entry per block (0 for blocks skipped by
     * stopAtEos or endOfText); with adaptiveBlock one entry per block decoded (their count varies).
     */
    stepsPerBlock: number[];
    /** The length of each block decoded, in order (blockLength each with fixed blocks; adaptiveBlock decides them). */
    blockLengths: number[];
    /** Why the text ends. */
    finishReason: FinishReason;
    /** Wall-clock figures. */
    timings: GenerateTimings;
    /** The seed used: the one given, 0 by default, or a fresh one when temperature > 0 and none was given. */
    seed: number;
    /** Number of prompt tokens (after tokenization / chat templating). */
    promptTokens: number;
    /** The KV cache the generation used (the option, or the model's default). */
    cache: CacheMode;
    /** Whether steps ran as replayed CUDA graphs. */
    cudaGraph: boolean;
    /** Why a requested CUDA graph was not used ("" when it was, or was not requested). */
    cudaGraphFallbackReason: string;
    /** Strategy apd only: dLLM forwards (= steps). */
    dllmForwards?: number;
    /** Strategy apd only: causal-LM forwards (fewer than steps by the one-position steps; 0 when mixtureWeight is 1). */
    arForwards?: number;
    /** Strategy apd only: the tokens each step committed (they sum to the decoded length). */
    acceptedPerStep?: number[];
}

/** Progress of reading a model archive. */
export interface LoadProgress {
    /** Reading the archive, or running the probe forward. */
    stage: "reading" | "probing";
    /** Bytes of the archive read so far. */
    bytesRead: number;
    /** Size of the archive. */
    totalBytes: number;
}

/** One token committed by a step: generation-relative position (0..genLength-1) and token id. */
export interface CommittedToken {
    /** Position in the generated span. */
    position: number;
    /** Token id now at that position. */
    token: number;
}

/** What one decoding step did to one generation (streaming, `onStep`). */
export interface StepEvent {
    type: "step";
    /** Index of the input in a batch (0 for a single input). */
    index: number;
    /** Forward pass number, 0-based (counted per call; a batch shares its steps). */
    step: number;
    /** Block being decoded, 0-based. */
    block: number;
    /** Tokens committed by this step, by position. */
    committed: CommittedToken[];
    /**
     * The canvas so far: decoded committed text with each still-masked position shown as the
     * mask glyph (default "░"), up to the first end token.
     */
    text: string;
}

/** A piece of final text (`onTextChunk`, and stream events of type "text"). */
export interface TextChunk {
    /** Index of the input in a batch (0 for a single input). */
    index: number;
    /** The new text; all chunks of a row, joined, are its result's text. */
    text: string;
    /** Generated tokens final so far (the chunk's text ends at or before that position). */
    finalTokens: number;
}

/** A stream event carrying a {@link TextChunk}. */
export interface TextEvent extends TextChunk {
    type: "text";
}

/** The last event of {@link Model.stream}: the same result generate() resolves to. */
export interface DoneEvent {
    type: "done";
    result: GenerateResult;
}

/**
 * What {@link Model.stream} yields, in order: step events, each followed by the text event it
 * made final (when it did), then one done event.
 */
export type StreamEvent = StepEvent | TextEvent | DoneEvent;
