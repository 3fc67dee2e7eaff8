/**
 * Every error localleap throws or rejects with is a {@link LocalleapError}: `code` is stable
 * (match on it, not on the message) and `hint` says what to do about it.
 */

/** The stable codes of {@link LocalleapError}. */
export type LocalleapErrorCode =
    | "INVALID_OPTIONS"
    | "INVALID_INPUT"
    | "PROMPT_TOO_LONG"
    | "CACHE_UNSUPPORTED"
    | "ADAPTIVE_BLOCK_UNSUPPORTED"
    | "LEARNED_FILTER_INVALID"
    | "LEARNED_FILTER_MISSING"
    | "MODEL_NOT_FOUND"
    | "MODEL_CORRUPT"
    | "MODEL_INCOMPATIBLE"
    | "MODEL_UNSAFE"
    | "MODEL_METADATA_INVALID"
    | "MODEL_METHOD_MISSING"
    | "MODEL_PROBE_FAILED"
    | "TOKENIZER_INVALID"
    | "TOKENIZER_MISSING"
    | "NATIVE_BINDING_UNAVAILABLE"
    | "NATIVE_BUILD_FAILED"
    | "CUDA_UNAVAILABLE"
    | "OUT_OF_MEMORY"
    | "RESOURCE_EXHAUSTED"
    | "ABORTED"
    | "MODEL_DISPOSED"
    | "QUEUE_FULL"
    | "PROMPT_SET_INVALID"
    | "ARCHIVE_WRITE_FAILED"
    | "APD_VOCAB_MISMATCH"
    | "INTERNAL";

/** Base class of every localleap error. */
export class LocalleapError extends Error {
    /** Stable machine-readable code. */
    readonly code: LocalleapErrorCode;
    /** What to do about it, when there is something to do. */
    readonly hint?: string;

    constructor(code: LocalleapErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
        super(message, options.cause === undefined ? undefined : { cause: options.cause });
        this.name = new.target.name;
        this.code = code;
        if (options.hint !== undefined) this.hint = options.hint;
    }
}

/** One rejected option: which field, what was given and what is allowed. */
export interface OptionIssue {
    /** Option name (dotted for nested fields); "" for the options object itself. */
    field: string;
    /** The value given, formatted for humans. */
    given: string;
    /** What the field accepts. */
    allowed: string;
    /** The full sentence for this field. */
    message: string;
}

/** Options object failed validation; `issues` lists every bad field. */
export class InvalidOptionsError extends LocalleapError {
    /** One entry per bad field. */
    readonly issues: OptionIssue[];

    constructor(what: string, issues: OptionIssue[]) {
        const lines = issues.map((issue) => `  - ${issue.message}`).join("\n");
        super("INVALID_OPTIONS", `invalid ${what}:\n${lines}`, {
            hint: "fix the options listed above; each line says what is allowed",
        });
        this.issues = issues;
    }
}

/** The prompt (text, token ids or chat messages) cannot be used. */
export class InvalidInputError extends LocalleapError {
    constructor(message: string, hint?: string) {
        super("INVALID_INPUT", message, hint === undefined ? {} : { hint });
    }
}

/** prompt + genLength exceeds the model's maxLength. */
export class PromptTooLongError extends LocalleapError {
    /** Prompt tokens, when known. */
    readonly promptTokens?: number;
    /** genLength asked for, when known. */
    readonly genLength?: number;
    /** The model's limit on prompt + genLength, when known. */
    readonly maxLength?: number;
    /** Tokens over the limit, when known. */
    readonly excess?: number;

    constructor(details: { promptTokens: number; genLength: number; maxLength: number; blockLength: number; index?: number } | { message: string }) {
        if ("message" in details) {
            super("PROMPT_TOO_LONG", details.message, {
                hint: "shorten the prompt or lower genLength so that prompt + genLength fits the model's maxLength",
            });
            return;
        }
        const { promptTokens, genLength, maxLength, blockLength, index } = details;
        const excess = promptTokens + genLength - maxLength;
        const room = maxLength - promptTokens;
        const fittingGen = room >= blockLength ? room - (room % blockLength) : 0;
        const alternatives = [`cut the prompt by at least ${excess} token${excess === 1 ? "" : "s"}`];
        if (fittingGen > 0) alternatives.push(`lower genLength to ${fittingGen} or less (a multiple of blockLength ${blockLength})`);
        super(
            "PROMPT_TOO_LONG",
            `${index === undefined ? "prompt" : `prompt ${index} of the batch`} (${promptTokens} tokens) + genLength (${genLength}) = ${promptTokens + genLength} tokens, ` +
                `over this model's maxLength of ${maxLength} by ${excess}`,
            { hint: alternatives.join(", or ") },
        );
        this.promptTokens = promptTokens;
        this.genLength = genLength;
        this.maxLength = maxLength;
        this.excess = excess;
    }
}

/** Base class of the errors that stop a model from loading. */
export class ModelLoadError extends LocalleapError {}

/** No readable model file at the path. */
export class ModelNotFoundError extends ModelLoadError {
    constructor(message: string, hint?: string) {
        super("MODEL_NOT_FOUND", message, {
            hint: hint ?? "check modelPath (or --model); a localleap model is a TorchScript model.pt written by tools/export.py",
        });
    }
}

/** The file is not a TorchScript archive, or is truncated. */
export class ModelCorruptError extends ModelLoadError {
    constructor(message: string, cause?: unknown) {
        super("MODEL_CORRUPT", message, {
            hint: "the file is not a complete TorchScript archive: download or export it again (tools/export.py, tools/export_hf.py)",
            cause,
        });
    }
}

/** The archive needs operators or a format this build's libtorch lacks (e.g. an sdpa export on libtorch 1.13). */
export class ModelIncompatibleError extends ModelLoadError {
    constructor(message: string, cause?: unknown) {
        super("MODEL_INCOMPATIBLE", message, {
            hint: "re-export the model with this libtorch's torch (tools/export.py --attention manual), or upgrade to a localleap binary built against a newer libtorch (2.x for sdpa models)",
            cause,
        });
    }
}

/**
 * The archive's code uses an operator outside localleap's allowlist: one that can read or write
 * files, use the network, start processes or threads, (de)serialise, or a custom op
 * (docs/model-format.md "What a model archive can and cannot do"). `operator` names it.
 */
export class ModelUnsafeError extends ModelLoadError {
    /** The refused operator ("aten::save", "prim::Print", "mylib::op"), or the record that could not be checked. */
    readonly operator: string;

    constructor(message: string, operator: string) {
        super("MODEL_UNSAFE", message, {
            hint: `the model's code uses ${operator}, which localleap does not allow; loadModel({ trustModelCode: true }) loads it anyway, but only do that if you trust the file's author`,
        });
        this.operator = operator;
    }
}

/** localleap.json is missing, not JSON, or a field is wrong; `field` names it. */
export class ModelMetadataError extends ModelLoadError {
    /** The metadata field at fault ("localleap.json" when the whole file is). */
    readonly field: string;

    constructor(field: string, message: string, hint?: string) {
        super("MODEL_METADATA_INVALID", message, {
            hint: hint ?? "re-export the model with tools/export.py or tools/export_hf.py (docs/model-format.md lists the fields)",
        });
        this.field = field;
    }
}

/** A TorchScript method the engine needs (forward, logits_at, logits_at_padded) is missing. */
export class ModelMethodMissingError extends ModelLoadError {
    constructor(message: string) {
        super("MODEL_METHOD_MISSING", message, {
            hint: "re-export the model with this version's tools/export.py or tools/export_hf.py",
        });
    }
}

/** The probe forward at load failed or returned logits of the wrong shape. */
export class ModelProbeError extends ModelLoadError {
    constructor(message: string, cause?: unknown) {
        super("MODEL_PROBE_FAILED", message, {
            hint: "the network does not match its metadata (vocabSize, dtype, attention); re-export it, or use a libtorch >= 2.0 build for sdpa models",
            cause,
        });
    }
}

/**
 * APD's causal LM (loadModel's apd.arModelPath) cannot verify this dLLM's drafts (docs/decoding.md
 * "The vocabulary check"): `reason` is "no-tokenizer" (an archive embeds no tokenizer.json),
 * "tokenizer" (the tokenizers give ids other meanings) or "width" (a dLLM token lies outside the
 * logits both models share); the message names the first difference.
 */
export class ApdVocabMismatchError extends ModelLoadError {
    readonly reason: "no-tokenizer" | "tokenizer" | "width";

    constructor(reason: "no-tokenizer" | "tokenizer" | "width", message: string) {
        super("APD_VOCAB_MISMATCH", `APD vocabulary mismatch (${reason}): ${message}`, {
            hint: "use a causal LM exported with the dLLM's tokenizer (e.g. Qwen2.5 beside Dream), both archives with their tokenizer.json embedded",
        });
        this.reason = reason;
    }
}

/** A KV cache ("prefix" or "dual") was asked of a format-v1 archive, which has no cache methods. */
export class CacheUnsupportedError extends LocalleapError {
    constructor(message: string) {
        super("CACHE_UNSUPPORTED", message, {
            hint: "re-export the model with this version's tools/export.py or tools/export_hf.py (format v2), or use cache: \"none\"",
        });
    }
}

/** adaptiveBlock was asked of an archive whose localleap.json has no delimiterIds (docs/decoding.md "Adaptive blocks"). */
export class AdaptiveBlockUnsupportedError extends LocalleapError {
    constructor(message: string) {
        super("ADAPTIVE_BLOCK_UNSUPPORTED", message, {
            hint: "re-export the model with this version's tools/export.py or tools/export_hf.py (they write delimiterIds), or drop adaptiveBlock",
        });
    }
}

/** The tokenizer files are missing or cannot be read. */
export class TokenizerError extends LocalleapError {
    constructor(code: "TOKENIZER_INVALID" | "TOKENIZER_MISSING", message: string, options: { hint?: string; cause?: unknown } = {}) {
        super(code, message, {
            hint: options.hint ?? "pass tokenizerPath: a folder with tokenizer.json and tokenizer_config.json, or a tokenizer.json path",
            cause: options.cause,
        });
    }
}

/** One native binary that was considered, and what happened to it. */
export interface BindingAttempt {
    /** Path of the .node file. */
    path: string;
    /** Where the candidate came from. */
    origin: "env" | "prebuild" | "source";
    /** The libtorch lib folder preloaded for this attempt; null for the loader's own search path. */
    libtorchDir: string | null;
    /** Whether it loaded, failed to load, or was not tried. */
    outcome: "loaded" | "failed" | "skipped";
    /** Why it failed or was skipped; "" when it loaded. */
    reason: string;
}

/** A libtorch installation found on this machine. */
export interface LibtorchLocation {
    /** Folder holding libtorch.so / libc10.so. */
    libDir: string;
    /** How it was found. */
    source: "LOCALLEAP_LIBTORCH" | "python" | "LD_LIBRARY_PATH" | "system";
    /** Version such as "2.11.0+cu130", "" when unknown. */
    version: string;
    /** CUDA version such as "13.0", "" for a CPU build or when unknown. */
    cudaVersion: string;
    /** Whether libtorch_cuda.so is there. */
    hasCuda: boolean;
    /** The libc10 / libtorch library files in libDir. */
    libraries: string[];
}

/** No native binary could be loaded: says what was tried, which libtorch was found and the fix. */
export class NativeBindingError extends LocalleapError {
    /** Every binary considered, in order. */
    readonly attempts: BindingAttempt[];
    /** Every libtorch found on this machine. */
    readonly libtorch: LibtorchLocation[];
    /** Places searched that had no libtorch, and why. */
    readonly notes: string[];

    constructor(message: string, details: { attempts: BindingAttempt[]; libtorch: LibtorchLocation[]; notes: string[]; hint: string }) {
        super("NATIVE_BINDING_UNAVAILABLE", message, { hint: details.hint });
        this.attempts = details.attempts;
        this.libtorch = details.libtorch;
        this.notes = details.notes;
    }
}

/** `localleap build` could not compile the native addon. */
export class NativeBuildError extends LocalleapError {
    constructor(message: string, hint: string) {
        super("NATIVE_BUILD_FAILED", message, { hint });
    }
}

/** device 'cuda' was asked for but cannot be used. */
export class CudaUnavailableError extends LocalleapError {
    constructor(message: string, hint: string) {
        super("CUDA_UNAVAILABLE", message, { hint });
    }
}

/** The device ran out of memory. */
export class OutOfMemoryError extends LocalleapError {
    constructor(message: string, hint: string, cause?: unknown) {
        super("OUT_OF_MEMORY", message, { hint, cause });
    }
}

/** The system refused a resource other than memory: a thread for a model (ulimit -u, cgroup pids.max). */
export class ResourceExhaustedError extends LocalleapError {
    constructor(message: string) {
        super("RESOURCE_EXHAUSTED", message, {
            hint: "dispose() models you no longer use, or raise the process's thread limits (ulimit -u, the container's pids limit)",
        });
    }
}

/** The call was aborted through its AbortSignal. */
export class AbortError extends LocalleapError {
    constructor(message = "the operation was aborted") {
        super("ABORTED", message);
    }
}

/** The model was disposed; load it again to use it. */
export class ModelDisposedError extends LocalleapError {
    constructor(message = "this model was disposed") {
        super("MODEL_DISPOSED", message, { hint: "call loadModel() again to get a new model" });
    }
}

/** Too many generate() calls are waiting for one model (LoadModelOptions.maxQueuedGenerations). */
export class QueueFullError extends LocalleapError {
    constructor(limit: number) {
        super("QUEUE_FULL", `${limit} generations are already waiting for this model`, {
            hint: "retry later, raise maxQueuedGenerations in loadModel(), or batch prompts into one generate([...]) call",
        });
    }
}

/**
 * A calibration prompt set (JSONL) cannot be used: a line is not JSON, lacks its prompt, has a
 * bad answer, or the set is empty. `line` is the 1-based line of the file (or the 1-based index
 * of an in-memory prompt) at fault, when there is one.
 */
export class PromptSetError extends LocalleapError {
    /** The file read, when the prompts came from one. */
    readonly file?: string;
    /** The 1-based line (or prompt number) at fault. */
    readonly line?: number;

    constructor(message: string, details: { file?: string; line?: number; hint?: string } = {}) {
        super("PROMPT_SET_INVALID", message, {
            hint: details.hint ?? 'each line is one JSON object: {"prompt": "text" or [{"role", "content"}, ...], "answer"?: number or string} ("question" is read as "prompt")',
        });
        if (details.file !== undefined) this.file = details.file;
        if (details.line !== undefined) this.line = details.line;
    }
}

/** Writing a model archive (new metadata, e.g. `calibrate --write`) failed; the destination is untouched. */
export class ArchiveWriteError extends LocalleapError {
    constructor(message: string, cause?: unknown) {
        super("ARCHIVE_WRITE_FAILED", message, {
            hint: "check that the destination folder exists and is writable and has room for a full copy of the archive; the destination was left as it was",
            cause,
        });
    }
}

/**
 * Strategy "learned" (docs/decoding.md "Learned filter"): LEARNED_FILTER_INVALID when the
 * archive's learned_filter.json cannot be used (loadModel; the message says what is wrong), and
 * LEARNED_FILTER_MISSING when generate() asks for strategy "learned" of an archive without one.
 */
export class LearnedFilterError extends LocalleapError {
    constructor(code: "LEARNED_FILTER_INVALID" | "LEARNED_FILTER_MISSING", message: string, hint?: string) {
        super(code, message, {
            hint:
                hint ??
                (code === "LEARNED_FILTER_MISSING"
                    ? "train a filter with tools/train_filter.py and add it with tools/add_filter.py (docs/decoding.md \"Learned filter\"), or use another strategy"
                    : "train the filter again with tools/train_filter.py, or replace it with tools/add_filter.py (docs/decoding.md \"Learned filter\")"),
        });
    }
}

/** A failure inside localleap that is not the caller's doing: a bug, please report it. */
export class InternalError extends LocalleapError {
    constructor(message: string, cause?: unknown) {
        super("INTERNAL", message, {
            hint: "this looks like a bug in localleap; please report it with this message and `localleap info` output",
            cause,
        });
    }
}
