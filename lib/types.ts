/** Public types shared by the API (options and results live next to their schemas in options.ts). */

/** How a step picks which masked positions of the block to commit (docs/decoding.md). */
export type Strategy = "low-confidence" | "random" | "threshold" | "localleap";

/** Where to run: 'auto' picks CUDA when the loaded binary has it and a GPU is visible, else CPU. */
export type DeviceOption = "cpu" | "cuda" | "auto";

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
 * A prompt: plain text (tokenized, with BOS when the model's metadata says `addBos`), token ids
 * (used as they are), or chat messages (rendered with the chat template, generation prompt added).
 */
export type GenerateInput = string | readonly number[] | Int32Array | readonly ChatMessage[];

/** 'eos' when the generated span holds an end token, else 'length'. */
export type FinishReason = "eos" | "length";

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
}

/** What {@link Model.generate} resolves to. */
export interface GenerateResult {
    /** Decoded text of `tokens` (special tokens skipped); "" for a model without a tokenizer. */
    text: string;
    /** Generated token ids, stopping before the first end token. */
    tokens: number[];
    /** Forward passes this generation took. */
    steps: number;
    /** Forward passes of each block (0 for blocks skipped by stopAtEos). */
    stepsPerBlock: number[];
    /** 'eos' when an end token was generated, else 'length'. */
    finishReason: FinishReason;
    /** Wall-clock figures. */
    timings: GenerateTimings;
    /** The seed used: the one given, 0 by default, or a fresh one when temperature > 0 and none was given. */
    seed: number;
    /** Number of prompt tokens (after tokenization / chat templating). */
    promptTokens: number;
    /** Whether steps ran as replayed CUDA graphs. */
    cudaGraph: boolean;
    /** Why a requested CUDA graph was not used ("" when it was, or was not requested). */
    cudaGraphFallbackReason: string;
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

/** The last event of {@link Model.stream}: the same result generate() resolves to. */
export interface DoneEvent {
    type: "done";
    result: GenerateResult;
}

/** What {@link Model.stream} yields: step events in order, then one done event. */
export type StreamEvent = StepEvent | DoneEvent;
