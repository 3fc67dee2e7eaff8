import type { Addon, AddonAbortToken, AddonBuildInfo, AddonDType, AddonModel, AddonStepEvent } from "./bindings/AddonTypes";
import { mapAddonError } from "./bindings/utils/mapAddonError";
import { AbortError, AdaptiveBlockUnsupportedError, CacheUnsupportedError, InvalidInputError, InvalidOptionsError, LearnedFilterError, ModelDisposedError, PromptTooLongError, QueueFullError } from "./errors";
import type { LearnedFilterInfo } from "./learnedFilter";
import { GenerationStream } from "./generation/GenerationStream";
import { isBatch } from "./generation/isBatch";
import { createStepHandler } from "./generation/createStepHandler";
import { checkBatchMemory, checkBatchRows } from "./generation/checkBatchLimits";
import { raceAbort } from "./generation/raceAbort";
import { CachedCallGate } from "./generation/CachedCallGate";
import type { TextLimits } from "./generation/cutGeneration";
import type { DecodingDefaults, ModelMetadata } from "./metadata";
import { type GenerateOptions, parseGenerateOptions, type StreamOptions } from "./options";
import { encodePrompt, type PromptContext } from "./prompt/encodePrompt";
import { checkPromptChars } from "./prompt/checkPromptChars";
import { encodeUserText } from "./prompt/protectSpecialText";
import { snapshotBatch } from "./prompt/snapshotInput";
import type { TextTokenizer } from "./tokenizer/TextTokenizer";
import type { CacheMode, ChatMessage, Device, GenerateInput, GenerateResult, StepEvent, TextEvent } from "./types";
import { formatValue } from "./utils/formatValue";
import { buildGenerateResult } from "./utils/buildGenerateResult";

/** What generate() resolves to for an input: one result, or one per input of a batch. */
export type ResultFor<I> = [I] extends [string | readonly number[] | Int32Array | readonly ChatMessage[]] ? GenerateResult : GenerateResult[];

/** The native build a model runs on. */
export interface ModelBuildInfo {
    /** "cuda" when the binary has the CUDA back end. */
    variant: AddonBuildInfo["variant"];
    /** e.g. "cuda13.0-torch2.11" or "cpu-torch1.13". */
    variantName: string;
    /** libtorch version the binary was compiled against. */
    torchVersion: string;
    /** CUDA toolkit version ("" for the CPU variant). */
    cudaVersion: string;
    /** The .node file loaded. */
    binaryPath: string;
    /** Name of CUDA device 0, "" when there is none. */
    cudaDeviceName: string;
}

/** The KV-cache sizes of {@link ModelInfo.kvCache}. */
export interface KvCacheInfo {
    layers: number;
    kvHeads: number;
    headDim: number;
    /** Bytes per canvas position of one row: layers x 2 x kvHeads x headDim x dtype bytes. */
    bytesPerPosition: number;
    /** One row's cache at the model's maxLength. */
    bytesPerRowAtMaxLength: number;
}

/** What {@link Model.info} describes. */
export interface ModelInfo {
    /** The archive's path. */
    path: string;
    /** The validated localleap.json. */
    metadata: ModelMetadata;
    /** Where the model runs. */
    device: Device;
    /** The GPU it runs on: its index among the GPUs the process sees (device "cuda:N") and name; null on the CPU. */
    gpu: { index: number; name: string } | null;
    /** dtype of the logits the probe forward returned. */
    dtype: AddonDType;
    /** Intra-op threads asked for (0: libtorch's default). */
    threads: number;
    /** Size of the archive. */
    fileBytes: number;
    /** Bytes of parameters and buffers. */
    parameterBytes: number;
    /**
     * The KV cache of a format-v2 archive (null for v1, which runs with cache "none" only). A
     * generation's cache takes rows x canvas positions x bytesPerPosition bytes, allocated once
     * per decode shape: bytesPerPosition = layers x 2 x kvHeads x headDim x dtype bytes.
     */
    kvCache: KvCacheInfo | null;
    /** The cache generate() uses when its options do not say: DEFAULT_CACHE for v2 archives, "none" for v1. */
    defaultCache: CacheMode;
    /**
     * The archive's decodingDefaults (localleap.json, e.g. written by `localleap calibrate
     * --write`): the κ, τ, W and θ generate() uses when the options give none (explicit options
     * win, field by field); null when the archive has none and the built-in defaults apply.
     */
    decodingDefaults: DecodingDefaults | null;
    /**
     * The archive's learned filter (learned_filter.json, strategy "learned", docs/decoding.md
     * "Learned filter"): its block length, size, default accept threshold and provenance; null
     * when the archive has none.
     */
    learnedFilter: LearnedFilterInfo | null;
    /** Where the tokenizer came from (the archive or tokenizerPath); null when there is none. */
    tokenizerSource: string | null;
    /** Whether chat messages can be used as input. */
    hasChatTemplate: boolean;
    build: ModelBuildInfo;
    /**
     * Strategy apd's causal LM (loadModel's apd.arModelPath), null without one: its path and the
     * width V' of the logits APD mixes (min of the two vocabSizes, docs/decoding.md "The vocabulary check").
     */
    apd: { arModelPath: string; vocabWidth: number } | null;
}

/** @internal What loadModel hands to the Model it builds. */
export interface ModelParts {
    addon: Addon;
    native: AddonModel;
    info: ModelInfo;
    prompt: PromptContext;
    /** LoadModelOptions.maxQueuedGenerations. */
    maxQueued: number;
}

/**
 * A loaded model. Get one from {@link loadModel}; call {@link Model.dispose} when done to free
 * its memory. Generation runs on the model's native worker thread, never on the JS thread.
 */
export class Model {
    /** Metadata, device, dtype and build of this model. */
    readonly info: ModelInfo;
    private readonly parts: ModelParts;
    private disposing: Promise<void> | undefined;
    /** Calls started and not yet finished: waiting on the worker thread or running. */
    private queued = 0;
    /** Cached calls reach the engine one at a time (see CachedCallGate for why). */
    private readonly cachedGate = new CachedCallGate();
    private warnedEmptyRaw = false;

    /** @internal Use {@link loadModel}. */
    constructor(parts: ModelParts) {
        this.parts = parts;
        this.info = parts.info;
    }

    /** True once {@link Model.dispose} was called. */
    get disposed(): boolean {
        return this.disposing !== undefined;
    }

    /**
     * Generates a continuation of `input`: a string (the user's message through the chat
     * template when the model has one, plain text with `raw: true`), token ids, or chat
     * messages. Given an array of inputs, decodes them as one batch and resolves to one result
     * per input, each identical to what that input gives alone. Concurrent calls join the
     * model's running batch (docs/scheduler.md): one forward per step serves them all; calls with
     * a KV cache (cache "prefix" / "dual") reach it one at a time, in arrival order, for now.
     * Rejects with InvalidOptionsError, InvalidInputError, PromptTooLongError, AbortError,
     * QueueFullError, OutOfMemoryError or ModelDisposedError; never leaves the model unusable.
     */
    generate<I extends GenerateInput | readonly GenerateInput[]>(input: I, options?: GenerateOptions): Promise<ResultFor<I>>;
    async generate(input: GenerateInput | readonly GenerateInput[], options: GenerateOptions = {}): Promise<GenerateResult | GenerateResult[]> {
        if (isBatch(input)) return this.run("generate", input, options);
        const [result] = await this.run("generate", [input as GenerateInput], options);
        return result as GenerateResult;
    }

    /**
     * Generates like {@link Model.generate} and yields the canvas filling in: one StepEvent per
     * step (what it committed and the text so far, masks shown), a TextEvent whenever more text
     * became final, then a DoneEvent with the result. Leaving the for-await loop early aborts
     * the generation.
     */
    stream(input: GenerateInput, options: StreamOptions = {}): GenerationStream {
        const controller = new AbortController();
        let signal: AbortSignal = controller.signal;
        try {
            const given = (options as { signal?: unknown } | null)?.signal;
            if (given instanceof AbortSignal) signal = AbortSignal.any([given, controller.signal]);
        } catch {
            // unreadable options: run() reports them as InvalidOptionsError
        }
        const start = async (sink: (event: StepEvent | TextEvent) => void): Promise<GenerateResult> => {
            let merged: GenerateOptions;
            try {
                merged = { ...options, signal, onStep: sink, onTextChunk: (chunk) => sink({ type: "text", ...chunk }) } as GenerateOptions;
            } catch {
                parseGenerateOptions(options); // unreadable options: throws the typed InvalidOptionsError
                throw new InvalidOptionsError("stream options", [{ field: "", given: "an object that throws when read", allowed: "a plain object", message: "the stream options could not be read" }]);
            }
            const [result] = await this.run("stream", [input], merged);
            return result as GenerateResult;
        };
        return new GenerationStream(start, () => controller.abort());
    }

    /**
     * Token ids of `text` as plain text: no chat template, no BOS, and special-token texts encoded
     * as the text they spell unless `specialTokens` is true.
     */
    tokenize(text: string, options: { specialTokens?: boolean } = {}): number[] {
        if (typeof text !== "string") throw new InvalidInputError(`tokenize() takes a string, got ${formatValue(text)}`, "pass the text to tokenize");
        return encodeUserText(text, this.requireTokenizer("tokenize()"), options.specialTokens === true);
    }

    /** Text of token ids, special tokens skipped. */
    detokenize(tokens: readonly number[] | Int32Array): string {
        if (!(tokens instanceof Int32Array) && !Array.isArray(tokens)) {
            throw new InvalidInputError(`detokenize() takes token ids, got ${formatValue(tokens)}`, "pass the tokens of a result, or of tokenize()");
        }
        const ids = Array.from(tokens as ArrayLike<unknown>);
        if (!ids.every((id) => Number.isInteger(id) && (id as number) >= 0)) {
            throw new InvalidInputError("detokenize() takes token ids (integers >= 0)", "pass the tokens of a result, or of tokenize()");
        }
        return this.requireTokenizer("detokenize()").decode(ids as number[]);
    }

    /** How many prompt tokens `input` takes, exactly as generate() would encode it (chat template, BOS). */
    countTokens(input: GenerateInput, options: { raw?: boolean; specialTokens?: boolean } = {}): number {
        if (this.disposed) throw new ModelDisposedError("countTokens() called on a disposed model");
        return encodePrompt(input, this.parts.prompt, options.raw === true, options.specialTokens === true).length;
    }

    private requireTokenizer(what: string): TextTokenizer {
        if (this.disposed) throw new ModelDisposedError(`${what} called on a disposed model`);
        const tokenizer = this.parts.prompt.tokenizer;
        if (tokenizer === null) throw new InvalidInputError(`this model has no tokenizer, so ${what} cannot be used`, "load the model with tokenizerPath");
        return tokenizer;
    }

    private async run(caller: "generate" | "stream", given: readonly GenerateInput[], options: GenerateOptions): Promise<GenerateResult[]> {
        if (this.disposed) throw new ModelDisposedError(`${caller}() called on a disposed model`);
        if (this.queued >= this.parts.maxQueued) throw new QueueFullError(this.parts.maxQueued);
        const o = parseGenerateOptions(options, undefined, this.info.decodingDefaults ?? undefined, this.info.metadata.delimiterThreshold, this.info.learnedFilter?.acceptThreshold);
        if (o.strategy === "learned") checkLearnedFilter(this.info, o.blockLength, o.adaptiveBlock?.window ?? null);
        const inputs = snapshotBatch(given);
        const { metadata } = this.info;
        if (inputs.length === 0) throw new InvalidInputError("the batch is empty", "pass at least one input");
        checkBatchRows(inputs.length);
        const prompts = inputs.map((input, index) => {
            checkPromptChars(input, metadata.maxLength, inputs.length > 1 ? index : undefined);
            const prompt = encodePrompt(input, this.parts.prompt, o.raw, o.specialTokens);
            if (prompt.length + o.genLength > metadata.maxLength) {
                throw new PromptTooLongError({ promptTokens: prompt.length, genLength: o.genLength, maxLength: metadata.maxLength, blockLength: o.blockLength, ...(inputs.length > 1 && { index }) });
            }
            return prompt;
        });
        if (o.strategy === "apd" && this.info.apd === null) {
            throw new InvalidOptionsError("generate options", [{
                field: "strategy", given: '"apd"', allowed: "a strategy the model was loaded for",
                message: `strategy "apd" needs its causal LM: load the model with loadModel({ modelPath, apd: { arModelPath } }) (apd.arModelPath); ${this.info.path} was loaded without one`,
            }]);
        }
        if (o.adaptiveBlock !== null && metadata.delimiterIds === undefined) {
            throw new AdaptiveBlockUnsupportedError(
                `adaptiveBlock needs the model's delimiter tokens (localleap.json delimiterIds), which ${this.info.path} does not have: re-export it with tools/export.py or tools/export_hf.py`,
            );
        }
        // APD has caches of its own (kvWindow, the AR's): the block rule's cache option does not apply.
        // Adaptive rows of a cached call would share their block columns: a cached adaptive call takes one
        // prompt; a batch that did not ask for a cache runs with "none".
        const cache =
            o.strategy === "apd" ? "none" : (o.cache ?? (o.adaptiveBlock !== null && prompts.length > 1 ? "none" : this.info.defaultCache));
        if (o.adaptiveBlock !== null && cache !== "none" && prompts.length > 1) {
            throw new InvalidOptionsError("generate options", [{
                field: "adaptiveBlock", given: formatValue(options.adaptiveBlock), allowed: `one prompt per call with cache "${cache}"`,
                message: `adaptiveBlock with cache "${cache}" takes one prompt per call (the rows of a cached call share their block columns); pass the ${prompts.length} prompts in separate calls, or use cache: "none"`,
            }]);
        }
        if (cache !== "none" && this.info.kvCache === null) {
            throw new CacheUnsupportedError(
                `cache "${cache}" needs a format-v2 archive; ${this.info.path} is format v${metadata.formatVersion}, which has no KV-cache methods and runs with cache "none" only`,
            );
        }
        const canvasLength = Math.max(...prompts.map((p) => p.length)) + o.genLength;
        // The CPU cache lives in host memory next to the logits; a GPU's is checked by the engine.
        const hostCacheBytes = cache !== "none" && this.info.device === "cpu" ? prompts.length * canvasLength * (this.info.kvCache?.bytesPerPosition ?? 0) : 0;
        checkBatchMemory(prompts.length, canvasLength, metadata.vocabSize, undefined, hostCacheBytes);
        if (o.signal?.aborted) throw new AbortError("generation was aborted before it started");

        const { AbortToken } = this.parts.addon;
        let abort: AddonAbortToken | undefined;
        const onAbort = () => abort?.abort();
        if (o.signal !== undefined) {
            abort = new AbortToken();
            o.signal.addEventListener("abort", onAbort, { once: true });
        }
        const tokenizer = this.parts.prompt.tokenizer;
        const limits: TextLimits = {
            endIds: new Set(metadata.endIds),
            maxTokens: o.maxTokens,
            stop: o.stop,
            decode: tokenizer === null ? null : (ids: number[]) => tokenizer.decode(ids),
        };
        // Stop strings and maxTokens end the decode as soon as every row's text has ended.
        const finish = o.stop.length > 0 || o.maxTokens !== null ? new AbortToken() : undefined;
        const handler =
            o.onStep !== undefined || o.onTextChunk !== undefined || finish !== undefined
                ? createStepHandler({
                      rows: prompts.length,
                      genLength: o.genLength,
                      limits,
                      maskGlyph: o.maskGlyph,
                      ...(o.onStep !== undefined && { onStep: o.onStep }),
                      ...(o.onTextChunk !== undefined && { onTextChunk: o.onTextChunk }),
                      ...(finish !== undefined && { onAllEnded: () => finish.abort() }),
                  })
                : undefined;
        let native;
        let released = false;
        let started = false;
        const release = () => {
            if (!released) this.queued--;
            released = true;
        };
        this.queued++;
        try {
            const submit = () => this.parts.native.generate({
                prompts: prompts.map((prompt) => Int32Array.from(prompt)),
                genLength: o.genLength,
                blockLength: o.blockLength,
                strategy: o.strategy,
                steps: o.steps,
                threshold: o.threshold,
                anchorThreshold: o.anchorThreshold,
                relaxedThreshold: o.relaxedThreshold,
                radius: o.radius,
                acceptThreshold: o.acceptThreshold,
                temperature: o.temperature,
                seeds: prompts.map(() => o.seed),
                stopAtEos: o.stopAtEos,
                endOfText: o.endOfText,
                cudaGraph: o.cudaGraph && this.info.device === "cuda",
                cache,
                ...(o.strategy === "apd" && { mixtureWeight: o.mixtureWeight, kvWindow: o.kvWindow, maxLookahead: o.maxLookahead }),
                ...(o.adaptiveBlock !== null && { adaptiveBlock: o.adaptiveBlock }),
                ...(abort !== undefined && { abort }),
                ...(finish !== undefined && { finish }),
                // After an abort the call has already rejected: later steps must not reach the callbacks.
                ...(handler !== undefined && { onStep: (event: AddonStepEvent) => (o.signal?.aborted ? undefined : handler.onStep(event)) }),
            });
            const work = cache === "none" ? submit() : this.cachedGate.admit(submit, o.signal, "generation was aborted before it started");
            // The queue slot is held until the engine is done, even when the caller stopped waiting.
            started = true;
            void work.then(release, release);
            native = await raceAbort(work, o.signal, "generation was aborted");
        } catch (error) {
            if (!started) release(); // the addon threw before queueing anything
            throw mapAddonError(error, "generate");
        } finally {
            o.signal?.removeEventListener("abort", onAbort);
        }
        const finishedEarly = finish?.aborted === true;
        const results = prompts.map((prompt, index) =>
            buildGenerateResult(native, {
                limits,
                ...(finishedEarly && handler !== undefined && { finalLength: handler.finalLength(index) }),
                seed: o.seed,
                promptTokens: prompt.length,
                cache,
                index,
            }),
        );
        handler?.flush(results.map((result) => result.text));
        this.warnIfEmptyRaw(o.raw, inputs, results);
        return results;
    }

    /** A chat model given raw text often answers nothing: say so once per model rather than return "" silently. */
    private warnIfEmptyRaw(raw: boolean, inputs: readonly GenerateInput[], results: readonly GenerateResult[]): void {
        if (this.warnedEmptyRaw || !raw || !this.info.hasChatTemplate) return;
        if (!results.some((result, i) => result.text.trim() === "" && typeof inputs[i] === "string")) return;
        this.warnedEmptyRaw = true;
        process.emitWarning(
            "localleap: a raw string prompt to a chat model gave empty text; drop raw: true to send it as a user message through the model's chat template",
            { code: "LOCALLEAP_EMPTY_RAW_OUTPUT" },
        );
    }

    /**
     * Frees the model once queued generations finish. Idempotent: later calls return the same
     * promise; generate() afterwards rejects with ModelDisposedError.
     */
    dispose(): Promise<void> {
        // Cached calls still waiting at the gate were accepted before dispose(): they run first.
        this.disposing ??= this.cachedGate.drained().then(() => this.parts.native.dispose()).catch((error: unknown) => {
            const mapped = mapAddonError(error, "dispose");
            if (!(mapped instanceof ModelDisposedError)) throw mapped;
        });
        return this.disposing;
    }

    /** `await using model = await loadModel()` disposes the model at the end of the scope. */
    [Symbol.asyncDispose](): Promise<void> {
        return this.dispose();
    }
}

/** Strategy "learned" needs the archive's filter, trained for blocks at least this long. */
function checkLearnedFilter(info: ModelInfo, blockLength: number, adaptiveWindow: number | null): void {
    const filter = info.learnedFilter;
    if (filter === null) {
        throw new LearnedFilterError(
            "LEARNED_FILTER_MISSING",
            `strategy "learned" needs a learned filter, and ${info.path} has no learned_filter.json`,
        );
    }
    if (blockLength > filter.blockLength) {
        throw new InvalidOptionsError("generate options", [{
            field: "blockLength",
            given: String(blockLength),
            allowed: `an integer up to ${filter.blockLength} (the learned filter's block length)`,
            message: `blockLength (${blockLength}) is longer than the block length the model's learned filter was trained for (${filter.blockLength}): use blockLength <= ${filter.blockLength} with strategy "learned", or train a filter for longer blocks (tools/train_filter.py --block-length)`,
        }]);
    }
    // An adaptive block can end anywhere in its window: the filter must cover all of it.
    if (adaptiveWindow !== null && adaptiveWindow > filter.blockLength) {
        throw new InvalidOptionsError("generate options", [{
            field: "adaptiveBlock",
            given: `{ window: ${adaptiveWindow} }`,
            allowed: `a window up to ${filter.blockLength} (the learned filter's block length)`,
            message: `adaptiveBlock.window (${adaptiveWindow}) is longer than the block length the model's learned filter was trained for (${filter.blockLength}): give adaptiveBlock { window: ${filter.blockLength} } or less with strategy "learned"`,
        }]);
    }
}
