/**
 * localleap: run diffusion language models (LLaDA, Dream) from Node.js with LocalLeap parallel
 * decoding. Start with {@link loadModel}, then {@link Model.generate}.
 */
export { loadModel } from "./loadModel";
export { Model, type KvCacheInfo, type ModelInfo, type ModelBuildInfo, type ResultFor } from "./model";
export { ChatSession, type ChatSessionOptions } from "./ChatSession";
export {
    type CommonGenerateOptions,
    type DistributiveOmit,
    type GenerateOptionName,
    type GenerateOptions,
    type LocalLeapOptions,
    type OnlyWithStrategy,
    type ScheduledOptions,
    type StreamOptions,
    type ThresholdOptions,
    MIN_TEMPERATURE,
    type LoadModelOptions,
    type ResolvedGenerateOptions,
    parseGenerateOptions,
    parseLoadModelOptions,
    STRATEGIES,
    MAX_GEN_LENGTH,
    MAX_SEED,
    MAX_THREADS,
    DEFAULT_MAX_QUEUED_GENERATIONS,
    DEFAULT_MAX_BATCH_SIZE,
    CACHE_MODES,
    DEFAULT_CACHE,
} from "./options";
export { GenerationStream } from "./generation/GenerationStream";
export type {
    ChatMessage,
    ChatRole,
    CommittedToken,
    DoneEvent,
    StepEvent,
    StreamEvent,
    TextChunk,
    TextEvent,
    Device,
    DeviceOption,
    FinishReason,
    GenerateInput,
    GenerateResult,
    GenerateTimings,
    LoadProgress,
    Strategy,
    CacheMode,
} from "./types";
export { type KvCacheSpec, type ModelMetadata, parseModelMetadata } from "./metadata";
export { TextTokenizer } from "./tokenizer/TextTokenizer";
export { getBuildInfo, type BuildInfo } from "./bindings/getAddon";
export { defaultModelPath } from "./utils/defaultModelPath";
export {
    AbortError,
    type BindingAttempt,
    CacheUnsupportedError,
    CudaUnavailableError,
    InternalError,
    InvalidInputError,
    InvalidOptionsError,
    type LibtorchLocation,
    LocalleapError,
    type LocalleapErrorCode,
    ModelCorruptError,
    ModelDisposedError,
    QueueFullError,
    ModelLoadError,
    ModelMetadataError,
    ModelIncompatibleError,
    ModelMethodMissingError,
    ModelNotFoundError,
    ModelProbeError,
    ModelUnsafeError,
    NativeBindingError,
    NativeBuildError,
    type OptionIssue,
    OutOfMemoryError,
    PromptTooLongError,
    ResourceExhaustedError,
    TokenizerError,
} from "./errors";
