import type { Addon, AddonAbortToken, AddonBuildInfo, AddonDType, AddonModel } from "./bindings/AddonTypes";
import { mapAddonError } from "./bindings/utils/mapAddonError";
import { AbortError, InvalidInputError, ModelDisposedError, PromptTooLongError, QueueFullError } from "./errors";
import { GenerationStream } from "./generation/GenerationStream";
import { isBatch } from "./generation/isBatch";
import { stepForwarder } from "./generation/stepForwarder";
import type { ModelMetadata } from "./metadata";
import { type GenerateOptions, parseGenerateOptions } from "./options";
import { encodePrompt, type PromptContext } from "./prompt/encodePrompt";
import type { Device, GenerateInput, GenerateResult } from "./types";
import { buildGenerateResult } from "./utils/buildGenerateResult";

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

/** What {@link Model.info} describes. */
export interface ModelInfo {
    /** The archive's path. */
    path: string;
    /** The validated localleap.json. */
    metadata: ModelMetadata;
    /** Where the model runs. */
    device: Device;
    /** dtype of the logits the probe forward returned. */
    dtype: AddonDType;
    /** Intra-op threads asked for (0: libtorch's default). */
    threads: number;
    /** Size of the archive. */
    fileBytes: number;
    /** Bytes of parameters and buffers. */
    parameterBytes: number;
    /** Where the tokenizer came from (the archive or tokenizerPath); null when there is none. */
    tokenizerSource: string | null;
    /** Whether chat messages can be used as input. */
    hasChatTemplate: boolean;
    build: ModelBuildInfo;
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
     * Generates a continuation of `input`: a string (tokenized, BOS added when the model's
     * metadata says addBos), token ids, or chat messages (rendered with the chat template).
     * Given an array of inputs, decodes them as one batch and resolves to one result per input,
     * each identical to what that input gives alone.
     * Rejects with InvalidOptionsError, InvalidInputError, PromptTooLongError, AbortError,
     * QueueFullError, OutOfMemoryError or ModelDisposedError; never leaves the model unusable.
     */
    generate(input: GenerateInput, options?: GenerateOptions): Promise<GenerateResult>;
    generate(inputs: readonly GenerateInput[], options?: GenerateOptions): Promise<GenerateResult[]>;
    async generate(input: GenerateInput | readonly GenerateInput[], options: GenerateOptions = {}): Promise<GenerateResult | GenerateResult[]> {
        if (isBatch(input)) return this.run(input, options);
        const [result] = await this.run([input as GenerateInput], options);
        return result as GenerateResult;
    }

    /**
     * Generates like {@link Model.generate} and yields the canvas filling in: one StepEvent per
     * step (what it committed and the text so far, masks shown), then a DoneEvent with the
     * result. Leaving the for-await loop early aborts the generation.
     */
    stream(input: GenerateInput, options: Omit<GenerateOptions, "onStep"> = {}): GenerationStream {
        const controller = new AbortController();
        const signal = options.signal === undefined ? controller.signal : AbortSignal.any([options.signal, controller.signal]);
        return new GenerationStream(
            (onStep) => this.generate(input, { ...options, signal, onStep }),
            () => controller.abort(),
        );
    }

    private async run(inputs: readonly GenerateInput[], options: GenerateOptions): Promise<GenerateResult[]> {
        if (this.disposed) throw new ModelDisposedError("generate() called on a disposed model");
        if (this.queued >= this.parts.maxQueued) throw new QueueFullError(this.parts.maxQueued);
        const o = parseGenerateOptions(options);
        const { metadata } = this.info;
        if (inputs.length === 0) throw new InvalidInputError("the batch is empty", "pass at least one input");
        const prompts = inputs.map((input, index) => {
            const prompt = encodePrompt(input, this.parts.prompt);
            if (prompt.length + o.genLength > metadata.maxLength) {
                throw new PromptTooLongError({ promptTokens: prompt.length, genLength: o.genLength, maxLength: metadata.maxLength, blockLength: o.blockLength, ...(inputs.length > 1 && { index }) });
            }
            return prompt;
        });
        if (o.signal?.aborted) throw new AbortError("generation was aborted before it started");

        let abort: AddonAbortToken | undefined;
        const onAbort = () => abort?.abort();
        if (o.signal !== undefined) {
            abort = new this.parts.addon.AbortToken();
            o.signal.addEventListener("abort", onAbort, { once: true });
        }
        const tokenizer = this.parts.prompt.tokenizer;
        const decode = tokenizer === null ? null : (ids: number[]) => tokenizer.decode(ids);
        const onStep = o.onStep === undefined ? undefined : stepForwarder(o.onStep, prompts.length, o.genLength, metadata.endIds, decode, o.maskGlyph);
        let native;
        this.queued++;
        try {
            native = await this.parts.native.generate({
                prompts: prompts.map((prompt) => Int32Array.from(prompt)),
                genLength: o.genLength,
                blockLength: o.blockLength,
                strategy: o.strategy,
                steps: o.steps,
                threshold: o.threshold,
                anchorThreshold: o.anchorThreshold,
                relaxedThreshold: o.relaxedThreshold,
                radius: o.radius,
                temperature: o.temperature,
                seeds: prompts.map(() => o.seed),
                stopAtEos: o.stopAtEos,
                cudaGraph: o.cudaGraph && this.info.device === "cuda",
                ...(abort !== undefined && { abort }),
                ...(onStep !== undefined && { onStep }),
            });
        } catch (error) {
            throw mapAddonError(error, "generate");
        } finally {
            this.queued--;
            o.signal?.removeEventListener("abort", onAbort);
        }
        return prompts.map((prompt, index) =>
            buildGenerateResult(native, { endIds: metadata.endIds, decode, seed: o.seed, promptTokens: prompt.length, index }),
        );
    }

    /**
     * Frees the model once queued generations finish. Idempotent: later calls return the same
     * promise; generate() afterwards rejects with ModelDisposedError.
     */
    dispose(): Promise<void> {
        this.disposing ??= this.parts.native.dispose().catch((error: unknown) => {
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
