import {
    AbortError,
    AdaptiveBlockUnsupportedError,
    CacheUnsupportedError,
    CudaUnavailableError,
    InternalError,
    InvalidOptionsError,
    LearnedFilterError,
    LocalleapError,
    ModelCorruptError,
    ModelDisposedError,
    ModelIncompatibleError,
    ModelMetadataError,
    ModelMethodMissingError,
    ModelNotFoundError,
    ModelProbeError,
    ModelUnsafeError,
    OutOfMemoryError,
    PromptTooLongError,
    ResourceExhaustedError,
    TokenizerError,
} from "../../errors";
import type { NativeErrorCode } from "../AddonTypes";

/** Which call failed: the hints differ (out of memory while loading vs while generating). */
export type AddonCallContext = "load" | "configure" | "generate" | "dispose";

const OOM_HINTS: Record<AddonCallContext, string> = {
    load: "the model does not fit in the device's memory: free memory (other processes, other loaded models), or load it with device: 'cpu'",
    configure: "the probe forward ran out of memory: free memory (other processes, other loaded models), or load the model with device: 'cpu'",
    generate:
        "lower genLength or blockLength, or shorten the prompt; dispose() models you no longer use and stop other processes using the device; or load the model with device: 'cpu'",
    dispose: "free memory held by other processes",
};

/**
 * Maps an error thrown or rejected by the addon (an AddonError with a native `code`) to the
 * matching typed error; anything unrecognised becomes an InternalError. LocalleapErrors pass
 * through unchanged.
 */
export function mapAddonError(error: unknown, context: AddonCallContext): LocalleapError {
    if (error instanceof LocalleapError) return error;
    const message = error instanceof Error ? error.message : String(error);
    const code = (error as { code?: unknown } | null)?.code as NativeErrorCode | undefined;
    const rawField = (error as { field?: unknown } | null)?.field;
    const field = typeof rawField === "string" && rawField !== "" ? rawField : undefined;
    switch (code) {
        case "INVALID_ARGUMENT":
            return new InvalidOptionsError(`${context} arguments (rejected by the native engine)`, [
                { field: "", given: "", allowed: "", message },
            ]);
        case "MODEL_NOT_FOUND":
            return new ModelNotFoundError(message);
        case "MODEL_CORRUPT":
            return new ModelCorruptError(message, error);
        case "MODEL_INCOMPATIBLE":
            return new ModelIncompatibleError(message, error);
        case "MODEL_UNSAFE":
            return new ModelUnsafeError(message, field ?? "an operator outside the allowlist");
        case "MODEL_METADATA_INVALID":
            return new ModelMetadataError(field ?? "localleap.json", message);
        case "TOKENIZER_INVALID":
            return new TokenizerError("TOKENIZER_INVALID", message, {
                hint: "re-export the model with tools/export.py or tools/export_hf.py, or pass tokenizerPath",
                cause: error,
            });
        case "MODEL_METHOD_MISSING":
            return new ModelMethodMissingError(message);
        case "MODEL_PROBE_FAILED":
            return new ModelProbeError(message, error);
        case "CACHE_UNSUPPORTED":
            return new CacheUnsupportedError(message);
        case "ADAPTIVE_BLOCK_UNSUPPORTED":
            return new AdaptiveBlockUnsupportedError(message);
        case "LEARNED_FILTER_INVALID":
        case "LEARNED_FILTER_MISSING":
            return new LearnedFilterError(code, message);
        case "PROMPT_TOO_LONG":
            return new PromptTooLongError({ message });
        case "CUDA_UNAVAILABLE":
            return new CudaUnavailableError(message, "check that a GPU is visible (nvidia-smi, CUDA_VISIBLE_DEVICES), or use device: 'cpu'");
        case "OUT_OF_MEMORY":
            return new OutOfMemoryError(message, OOM_HINTS[context], error);
        case "RESOURCE_EXHAUSTED":
            return new ResourceExhaustedError(message);
        case "ABORTED":
            return new AbortError(message || undefined);
        case "MODEL_DISPOSED":
            return new ModelDisposedError(message || undefined);
        default:
            return new InternalError(`native ${context} failed: ${message}`, error);
    }
}
