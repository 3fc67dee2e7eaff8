import { stat } from "node:fs/promises";
import path from "node:path";
import type { AddonAbortToken, AddonLoadResult } from "./bindings/AddonTypes";
import { getAddon, type LoadedAddon } from "./bindings/getAddon";
import { mapAddonError } from "./bindings/utils/mapAddonError";
import { AbortError, InvalidOptionsError, ModelMethodMissingError, ModelNotFoundError, ModelProbeError, TokenizerError } from "./errors";
import { raceAbort } from "./generation/raceAbort";
import { checkApdVocab } from "./apd/checkVocab";
import { parseLearnedFilter } from "./learnedFilter";
import { parseCausalMetadata, parseModelMetadata, type ModelMetadata } from "./metadata";
import { Model } from "./model";
import { DEFAULT_CACHE, LOAD_ALLOWED, type LoadModelOptions, parseLoadModelOptions } from "./options";
import type { PromptContext } from "./prompt/encodePrompt";
import { compileChatTemplate } from "./tokenizer/renderChatTemplate";
import { TextTokenizer } from "./tokenizer/TextTokenizer";
import type { AddonDeviceRequest } from "./bindings/AddonTypes";
import { defaultArModelPath, defaultModelPath } from "./utils/defaultModelPath";
import { resolveDevice } from "./utils/resolveDevice";

/** TorchScript methods the engine calls (docs/model-format.md "Methods"). */
const REQUIRED_METHODS = ["forward", "logits_at", "logits_at_padded"];

/**
 * Loads a localleap model (a TorchScript model.pt) on a native worker thread: validates the
 * options and the archive's metadata, runs a probe forward and builds the tokenizer.
 * Rejects with a {@link LocalleapError}: InvalidOptionsError, ModelNotFoundError,
 * ModelCorruptError, ModelIncompatibleError, ModelUnsafeError, ModelMetadataError,
 * ModelMethodMissingError, ModelProbeError, TokenizerError, LearnedFilterError (LEARNED_FILTER_INVALID), NativeBindingError,
 * CudaUnavailableError, OutOfMemoryError, ResourceExhaustedError or AbortError.
 */
export async function loadModel(options: LoadModelOptions = {}): Promise<Model> {
    const o = parseLoadModelOptions(options);
    const modelPath = await resolveModelPath(o.modelPath);
    // Strategy apd's causal LM: read by the same native load, on the same worker thread and device.
    const arModelPath = o.apd === undefined ? undefined : await resolveArModelPath(o.apd.arModelPath, o.modelPath);
    const checkAborted = () => {
        if (o.signal?.aborted) throw new AbortError("loading was aborted");
    };
    checkAborted();
    // A bad tokenizerPath fails before the (slow) model read.
    const tokenizerOverride = o.tokenizerPath === undefined ? null : await TextTokenizer.fromPath(o.tokenizerPath);
    const loaded = await getAddon({ device: o.device });
    const device = resolveDevice(o.device, loaded);
    checkAborted();

    let abort: AddonAbortToken | undefined;
    const onAbort = () => abort?.abort();
    if (o.signal !== undefined) {
        abort = new loaded.addon.AbortToken();
        o.signal.addEventListener("abort", onAbort, { once: true });
    }
    let result: AddonLoadResult;
    try {
        result = await loaded.addon.loadModel({
            path: modelPath,
            device,
            threads: o.threads,
            maxBatchSize: o.maxBatchSize,
            trustModelCode: o.trustModelCode,
            ...(arModelPath !== undefined && { arPath: arModelPath }),
            ...(abort !== undefined && { abort }),
            ...(o.onProgress !== undefined && { onProgress: o.onProgress }),
        });
    } catch (error) {
        throw mapAddonError(error, "load");
    } finally {
        o.signal?.removeEventListener("abort", onAbort);
    }

    try {
        checkAborted();
        return await buildModel(result, {
            modelPath, ...(arModelPath !== undefined && { arModelPath }), device, threads: o.threads, loaded, tokenizerOverride, maxQueued: o.maxQueuedGenerations,
            probeTimeoutMs: o.probeTimeoutMs, ...(o.signal !== undefined && { signal: o.signal }),
        });
    } catch (error) {
        // Whatever went wrong after the read, the native model must not leak. A probe still
        // running (timed out or aborted) holds the worker: dispose is queued behind it, not awaited.
        const disposing = result.model.dispose().catch(() => undefined);
        if (!(error instanceof AbortError) && !(error instanceof ProbeTimeoutError)) await disposing;
        throw mapAddonError(error, "configure");
    }
}

/** The probe did not return within probeTimeoutMs. */
class ProbeTimeoutError extends ModelProbeError {}

/**
 * The native configure (the probe forward), bounded by probeTimeoutMs and `signal`: a forward
 * that never returns (a scripted loop) cannot be interrupted natively, so loadModel stops
 * waiting for it and the model is abandoned.
 */
function boundedProbe<T>(probe: Promise<T>, timeoutMs: number, signal: AbortSignal | undefined, modelPath: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ProbeTimeoutError(
            `the probe forward of ${modelPath} did not return within ${timeoutMs} ms (probeTimeoutMs): the model is unusable and was abandoned; ` +
                "its native thread stays busy until the forward returns (a model whose code loops never does: end such a process with process.exit())",
        )), timeoutMs);
        timer.unref();
    });
    const aborted = "loading was aborted during the probe forward: the model was abandoned (its native thread stays busy until the forward returns)";
    void probe.catch(() => undefined); // settles after loadModel gave up on it: nothing to report
    return raceAbort(Promise.race([probe, deadline]), signal, aborted).finally(() => clearTimeout(timer));
}

async function buildModel(
    result: AddonLoadResult,
    ctx: {
        modelPath: string; arModelPath?: string; device: AddonDeviceRequest; threads: number; loaded: LoadedAddon; tokenizerOverride: TextTokenizer | null; maxQueued: number;
        probeTimeoutMs: number; signal?: AbortSignal;
    },
): Promise<Model> {
    const missing = REQUIRED_METHODS.filter((method) => !result.methods.includes(method));
    if (missing.length > 0) {
        throw new ModelMethodMissingError(`${ctx.modelPath} lacks the TorchScript method${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`);
    }
    const metadata = parseModelMetadata(result.metadataJson, ctx.modelPath);
    const learnedFilter = parseLearnedFilter(result.learnedFilterJson, ctx.modelPath);
    const tokenizer =
        ctx.tokenizerOverride ??
        (result.tokenizerJson.trim() === "" ? null : TextTokenizer.fromJson(result.tokenizerJson, result.tokenizerConfigJson, `${ctx.modelPath} (embedded)`));
    const prompt = promptContext(metadata, tokenizer, ctx.tokenizerOverride !== null);
    // APD: the causal LM's metadata, then the vocabulary check on the two embedded tokenizers.
    let ar: { vocabSize: number; eosId: number; maxLength: number; vocabWidth: number; kvCache: { layers: number; kvHeads: number; headDim: number } } | undefined;
    if (ctx.arModelPath !== undefined) {
        if (result.ar === undefined) throw new ModelProbeError(`the native load did not return the causal LM ${ctx.arModelPath}`);
        const arMissing = REQUIRED_METHODS.filter((method) => !result.ar!.methods.includes(method));
        if (arMissing.length > 0) throw new ModelMethodMissingError(`${ctx.arModelPath} (apd.arModelPath) lacks the TorchScript method${arMissing.length > 1 ? "s" : ""} ${arMissing.join(", ")}`);
        const arMeta = parseCausalMetadata(result.ar.metadataJson, ctx.arModelPath);
        const vocabWidth = checkApdVocab(metadata, result.tokenizerJson, arMeta, result.ar.tokenizerJson);
        ar = { vocabSize: arMeta.vocabSize, eosId: arMeta.eosId, maxLength: arMeta.maxLength, vocabWidth, kvCache: arMeta.kvCache };
    }

    let native;
    try {
        native = await boundedProbe(result.model.configure({
            vocabSize: metadata.vocabSize,
            maskId: metadata.maskId,
            eosId: metadata.eosId,
            endIds: metadata.endIds,
            padId: metadata.padId,
            logitsShifted: metadata.logitsShifted,
            maxLength: metadata.maxLength,
            ...(metadata.kvCache !== undefined && { kvCache: metadata.kvCache }),
            ...(ar !== undefined && { ar }),
            ...(metadata.delimiterIds !== undefined && { delimiterIds: metadata.delimiterIds }),
            ...(learnedFilter !== null && { learnedFilter: learnedFilter.weights }),
        }), ctx.probeTimeoutMs, ctx.signal, ctx.modelPath);
    } catch (error) {
        throw mapAddonError(error, "configure");
    }
    const build = ctx.loaded.buildInfo;
    return new Model({
        addon: ctx.loaded.addon,
        native: result.model,
        prompt,
        maxQueued: ctx.maxQueued,
        info: {
            path: ctx.modelPath,
            metadata,
            device: native.device,
            gpu: native.gpu,
            dtype: native.dtype,
            threads: ctx.threads,
            fileBytes: result.fileBytes,
            parameterBytes: native.parameterBytes,
            kvCache:
                metadata.kvCache === undefined
                    ? null
                    : {
                          ...metadata.kvCache,
                          bytesPerPosition: native.kvCacheBytesPerPosition,
                          bytesPerRowAtMaxLength: native.kvCacheBytesPerPosition * metadata.maxLength,
                      },
            defaultCache: metadata.kvCache === undefined ? "none" : DEFAULT_CACHE,
            decodingDefaults: metadata.decodingDefaults ?? null,
            learnedFilter: learnedFilter?.info ?? null,
            tokenizerSource: tokenizer?.source ?? null,
            hasChatTemplate: prompt.chatTemplate !== null,
            apd: ar === undefined || ctx.arModelPath === undefined ? null : { arModelPath: ctx.arModelPath, vocabWidth: ar.vocabWidth },
            build: {
                variant: build.variant,
                variantName: ctx.loaded.variantName,
                torchVersion: build.torchVersion,
                cudaVersion: build.cudaVersion,
                binaryPath: ctx.loaded.binaryPath,
                cudaDeviceName: build.cudaDeviceName,
            },
        },
    });
}

/**
 * The chat template is tokenizerPath's when it has one (the user chose those files), else the
 * metadata's, else the embedded tokenizer_config.json's.
 */
function promptContext(metadata: ModelMetadata, tokenizer: TextTokenizer | null, overridden: boolean): PromptContext {
    const templateSource = (overridden ? tokenizer?.chatTemplate : null) ?? metadata.chatTemplate ?? tokenizer?.chatTemplate ?? null;
    let bosId: number | null = null;
    if (tokenizer !== null && metadata.addBos && metadata.bosToken !== null) {
        bosId = tokenizer.tokenToId(metadata.bosToken) ?? null;
        if (bosId === null) {
            throw new TokenizerError("TOKENIZER_INVALID", `the model's bosToken ${JSON.stringify(metadata.bosToken)} is not in the tokenizer (${tokenizer.source})`, {
                hint: "use the tokenizer the model was exported with (omit tokenizerPath to use the embedded one)",
            });
        }
    }
    return {
        tokenizer,
        chatTemplate: tokenizer !== null && templateSource !== null ? compileChatTemplate(templateSource, tokenizer.source) : null,
        bosToken: tokenizer?.bosToken ?? metadata.bosToken,
        eosToken: tokenizer?.eosToken ?? tokenizer?.idToToken(metadata.eosId) ?? null,
        bosId,
        vocabSize: metadata.vocabSize,
        maskId: metadata.maskId,
    };
}

/**
 * Strategy apd's causal LM: the given path, else the embedded one, which pairs with the embedded
 * model only (another dLLM's tokenizer would not match it).
 */
async function resolveArModelPath(given: string | undefined, modelPath: string | undefined): Promise<string> {
    if (given !== undefined) return resolveModelPath(given);
    if (modelPath !== undefined) {
        throw new InvalidOptionsError("loadModel options", [{
            field: "apd.arModelPath", given: "left out", allowed: LOAD_ALLOWED.apd,
            message: "apd.arModelPath is required with a modelPath: the embedded causal LM (models/reference-ar) pairs with the embedded model only; pass the causal LM exported for your model (tools/export_hf.py)",
        }]);
    }
    const arPath = defaultArModelPath();
    if ((await stat(arPath).catch(() => null))?.isFile()) return arPath;
    throw new ModelNotFoundError(
        `apd: {} asks for the embedded model's causal LM and ${arPath} does not exist`,
        "the npm package ships it: reinstall localleap (`npm install localleap`); in a git checkout run `npm run setup`; or pass apd.arModelPath (--ar-model)",
    );
}

/** The archive to read: the given path (a file, or a folder holding model.pt) or the default model. */
async function resolveModelPath(given: string | undefined): Promise<string> {
    const modelPath = path.resolve(given ?? defaultModelPath());
    const info = await stat(modelPath).catch(() => null);
    if (info === null) {
        if (given === undefined) {
            throw new ModelNotFoundError(
                `no modelPath given and the default model ${modelPath} does not exist`,
                "the npm package ships it: reinstall localleap (`npm install localleap`); in a git checkout run `npm run setup`; or pass modelPath (--model)",
            );
        }
        throw new ModelNotFoundError(`no model file at ${modelPath}`);
    }
    if (info.isDirectory()) {
        const inside = path.join(modelPath, "model.pt");
        if ((await stat(inside).catch(() => null))?.isFile()) return inside;
        throw new ModelNotFoundError(`${modelPath} is a folder without a model.pt`);
    }
    return modelPath;
}
