/**
 * localleap: run diffusion language models (LLaDA, Dream) from Node.js with LocalLeap parallel
 * decoding. Start with {@link loadModel}, then {@link Model.generate}; {@link loadModelPool} serves
 * replicas of a model behind the same API.
 */
export { loadModel } from "./loadModel";
export { Model, type KvCacheInfo, type ModelInfo, type ModelBuildInfo, type ResultFor } from "./model";
export type { LearnedFilterInfo, LearnedFilterProvenance } from "./learnedFilter";
export { loadModelPool } from "./pool/loadModelPool";
export { ModelPool, type ReplicaLoad } from "./pool/ModelPool";
export { type LoadModelPoolOptions, MAX_POOL_REPLICAS } from "./pool/poolOptions";
export { ChatSession, type ChatSessionOptions } from "./ChatSession";
export {
    type AdaptiveBlockOptions,
    type CommonGenerateOptions,
    type DistributiveOmit,
    type GenerateOptionName,
    type GenerateOptions,
    type LearnedOptions,
    type LocalLeapOptions,
    type ApdOptions,
    type ApdLoadOptions,
    APD_DEFAULTS,
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
    BLOCK_STRATEGIES,
    MAX_GEN_LENGTH,
    MAX_SEED,
    MAX_THREADS,
    DEFAULT_MAX_QUEUED_GENERATIONS,
    DEFAULT_MAX_BATCH_SIZE,
    CACHE_MODES,
    DEFAULT_CACHE,
    BUILTIN_DECODING_DEFAULTS,
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
    CudaDeviceIndex,
    DeviceOption,
    FinishReason,
    GenerateInput,
    GenerateResult,
    GenerateTimings,
    LoadProgress,
    Strategy,
    CacheMode,
} from "./types";
export { type CalibrationRecord, type DecodingDefaults, type KvCacheSpec, type ModelMetadata, parseModelMetadata } from "./metadata";
export {
    calibrate,
    type CalibrateOptions,
    type CalibrationPoint,
    type CalibrationProgress,
    type CalibrationReport,
    DEFAULT_CALIBRATION_BATCH,
    DEFAULT_CALIBRATION_BUDGET,
    parseCalibrateOptions,
    type ResolvedCalibrateOptions,
} from "./calibrate/calibrate";
export { CALIBRATED_STRATEGIES, type CalibratedStrategy, type CalibrationGrid, type CalibrationSetting, DEFAULT_CALIBRATION_GRID, gridSettings } from "./calibrate/grid";
export { type CalibrationPrompt, parsePromptSet, readPromptSet } from "./calibrate/promptSet";
export { qualityLoss, selectSetting, type ScoredSetting, withinBudget } from "./calibrate/select";
export { calibrationPlot, calibrationSummary, calibrationTable } from "./calibrate/report";
export { type AnswerChecker, checkFinalAnswer, extractAnswer } from "./calibrate/answerChecker";
export { writeDecodingDefaults, type WriteDecodingDefaultsOptions } from "./calibrate/writeDecodingDefaults";
export { TextTokenizer } from "./tokenizer/TextTokenizer";
export { getBuildInfo, type BuildInfo } from "./bindings/getAddon";
export { defaultModelPath } from "./utils/defaultModelPath";
export {
    AbortError,
    ArchiveWriteError,
    type BindingAttempt,
    AdaptiveBlockUnsupportedError,
    CacheUnsupportedError,
    ApdVocabMismatchError,
    CudaUnavailableError,
    InternalError,
    InvalidInputError,
    InvalidOptionsError,
    LearnedFilterError,
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
    PromptSetError,
    PromptTooLongError,
    ResourceExhaustedError,
    TokenizerError,
} from "./errors";
