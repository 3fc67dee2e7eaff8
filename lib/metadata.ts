import { z } from "zod";
import { ModelMetadataError } from "./errors";
import { formatValue } from "./utils/formatValue";
import { valueAt } from "./utils/valueAt";

/** The archive's `localleap.json`, as docs/model-format.md lists it. */
export interface ModelMetadata {
    /** Marks the archive as a localleap model. */
    format: "localleap";
    /** Bumped on incompatible change; this version reads 1 and 2 (2 adds the KV-cache methods). */
    formatVersion: 1 | 2;
    /** Human-readable model name. */
    name: string;
    /** Family of the network and of its tokenizer conventions. */
    architecture: "llada" | "dream";
    /** V, the logits' last dimension. */
    vocabSize: number;
    /** The mask token m. */
    maskId: number;
    /** End-of-text; fills the canvas after an early stop. */
    eosId: number;
    /** Tokens that end the text (EOS, end-of-turn). */
    endIds: number[];
    /** Left padding in batches. */
    padId: number;
    /** True when position i is predicted by the output at i - 1 (Dream). */
    logitsShifted: boolean;
    /** Longest canvas (prompt + generation) the model accepts. */
    maxLength: number;
    /** dtype of the weights and logits. */
    dtype: "float32" | "bfloat16" | "float16";
    /** Attention core; sdpa needs libtorch >= 2.0. */
    attention: "manual" | "sdpa";
    /** The network's sizes (tools/localleap/model.py ModelConfig). */
    config: Record<string, unknown>;
    /** Jinja chat template, null when the model has none. */
    chatTemplate: string | null;
    /** Prepend bosToken to plain-string prompts. */
    addBos: boolean;
    /** The beginning-of-text token's text. */
    bosToken: string | null;
    /** Tool, torch version and date of the export. */
    exporter: Record<string, unknown>;
    /** Format v2 only: the KV cache's sizes (its dtype is `dtype`); absent in v1 archives. */
    kvCache?: KvCacheSpec;
    /**
     * Optional, any format version: per-strategy decoding parameters that generate() uses when
     * the caller gives none of them (written by `localleap calibrate --write`).
     */
    decodingDefaults?: DecodingDefaults;
    /**
     * Optional, any format version: AdaBlock's delimiter tokens (the tokenizer's newline), 1 to 8
     * ids in [0, vocabSize) other than maskId; needed by generate()'s adaptiveBlock.
     */
    delimiterIds?: number[];
    /** Optional: adaptiveBlock's default delimiterThreshold for this model, in [0, 1] (0.3 LLaDA, 0.5 Dream). */
    delimiterThreshold?: number;
}

/**
 * The model's own decoding defaults (localleap.json `decodingDefaults`, docs/model-format.md):
 * generate() takes each field the caller leaves out from here before the built-in default.
 */
export interface DecodingDefaults {
    /** Strategy "localleap": κ, τ (at most κ when both are set) and W. */
    localleap?: { anchorThreshold?: number; relaxedThreshold?: number; radius?: number };
    /** Strategy "threshold": θ. */
    threshold?: { threshold?: number };
    /** How the values were chosen (`localleap calibrate`); informational, generate() ignores it. */
    calibration?: CalibrationRecord;
}

/** What `localleap calibrate` records next to the defaults it wrote. */
export interface CalibrationRecord {
    /** ISO 8601 time of the calibration. */
    date: string;
    /** Number of prompts scored. */
    prompts: number;
    /** "accuracy": answers checked; "agreement": exact match with the one-token baseline's text. */
    metric: "accuracy" | "agreement";
    /** Largest quality loss allowed against the baseline, in points. */
    budget: number;
    /** Other details (tool, genLength, blockLength, cache, baseline, per-strategy results). */
    [key: string]: unknown;
}

/** The largest radius accepted in decodingDefaults (the options' MAX_GEN_LENGTH). */
const MAX_DEFAULT_RADIUS = 65536;

/** Format v2's KV-cache sizes: the cache tensor is [layers, 2, rows, kvHeads, positions, headDim]. */
export interface KvCacheSpec {
    layers: number;
    kvHeads: number;
    headDim: number;
}

const METADATA_FORMAT_VERSIONS = [1, 2] as const;
/** The engine's bound on each kvCache size (native/bindings/js_convert.cc). */
const MAX_KV_CACHE_SIZE = 2 ** 16;

/** The native engine's limits (native/engine/generation.h, native/kernels/rule_types.h). */
export const MAX_VOCAB_SIZE = 2 ** 30;
export const MAX_END_IDS = 8;
export const MAX_DELIMITER_IDS = 8;
export const MAX_MODEL_LENGTH = 2 ** 24;

const id = () => z.number().int().min(0);

const metadataSchema = z.looseObject({
    format: z.literal("localleap"),
    formatVersion: z.union([z.literal(1), z.literal(2)]),
    name: z.string(),
    architecture: z.enum(["llada", "dream"]),
    vocabSize: z.number().int().min(1).max(MAX_VOCAB_SIZE),
    maskId: id(),
    eosId: id(),
    endIds: z.array(id()).min(1).max(MAX_END_IDS),
    padId: id(),
    logitsShifted: z.boolean(),
    maxLength: z.number().int().min(2).max(MAX_MODEL_LENGTH),
    dtype: z.enum(["float32", "bfloat16", "float16"]),
    attention: z.enum(["manual", "sdpa"]),
    config: z.record(z.string(), z.unknown()),
    chatTemplate: z.string().nullable(),
    addBos: z.boolean(),
    bosToken: z.string().nullable(),
    exporter: z.record(z.string(), z.unknown()),
    kvCache: z.strictObject({
        layers: z.number().int().min(1).max(MAX_KV_CACHE_SIZE),
        kvHeads: z.number().int().min(1).max(MAX_KV_CACHE_SIZE),
        headDim: z.number().int().min(1).max(MAX_KV_CACHE_SIZE),
    }).optional(),
    decodingDefaults: z.strictObject({
        localleap: z.strictObject({
            anchorThreshold: z.number().min(0).max(1).optional(),
            relaxedThreshold: z.number().min(0).max(1).optional(),
            radius: z.number().int().min(0).max(MAX_DEFAULT_RADIUS).optional(),
        }).optional(),
        threshold: z.strictObject({ threshold: z.number().min(0).max(1).optional() }).optional(),
        calibration: z.looseObject({
            date: z.string(),
            prompts: z.number().int().min(1),
            metric: z.enum(["accuracy", "agreement"]),
            budget: z.number().min(0).max(100),
        }).optional(),
    }).optional(),
    delimiterIds: z.array(id()).min(1).max(MAX_DELIMITER_IDS).optional(),
    delimiterThreshold: z.number().min(0).max(1).optional(),
});

const EXPECTED: Record<keyof ModelMetadata, string> = {
    format: '"localleap"',
    formatVersion: `${METADATA_FORMAT_VERSIONS.join(" or ")} (the versions this localleap reads)`,
    name: "a string",
    architecture: '"llada" or "dream"',
    vocabSize: `an integer from 1 to ${MAX_VOCAB_SIZE}`,
    maskId: "an integer in [0, vocabSize)",
    eosId: "an integer in [0, vocabSize)",
    endIds: `an array of 1 to ${MAX_END_IDS} integers in [0, vocabSize) containing eosId and not maskId`,
    padId: "an integer in [0, vocabSize)",
    logitsShifted: "true or false",
    maxLength: `an integer from 2 to ${MAX_MODEL_LENGTH}`,
    dtype: '"float32", "bfloat16" or "float16"',
    attention: '"manual" or "sdpa"',
    config: "an object",
    chatTemplate: "a string or null",
    addBos: "true or false",
    bosToken: "a string, or null when addBos is false",
    exporter: "an object",
    kvCache: `an object { layers, kvHeads, headDim } of integers from 1 to ${MAX_KV_CACHE_SIZE} (format v2)`,
    decodingDefaults:
        `an object with optional localleap { anchorThreshold, relaxedThreshold: numbers in [0, 1], radius: an integer from 0 to ${MAX_DEFAULT_RADIUS} }, ` +
        'threshold { threshold: a number in [0, 1] } and calibration { date: string, prompts: integer >= 1, metric: "accuracy" or "agreement", budget: 0 to 100, ... }, and no other fields',
    delimiterIds: `an array of 1 to ${MAX_DELIMITER_IDS} integers in [0, vocabSize), not maskId`,
    delimiterThreshold: "a number in [0, 1]",
};

/**
 * Parses and checks `localleap.json` (its raw text); throws {@link ModelMetadataError} naming
 * the first bad field. `source` names the archive in messages.
 */
export function parseModelMetadata(json: string, source: string): ModelMetadata {
    if (json.trim() === "") {
        throw new ModelMetadataError("localleap.json", `${source} has no localleap.json: it is a TorchScript archive but not a localleap model`);
    }
    let raw: unknown;
    try {
        raw = JSON.parse(json);
    } catch (error) {
        throw new ModelMetadataError("localleap.json", `localleap.json in ${source} is not valid JSON (${(error as Error).message})`);
    }
    if (raw !== null && typeof raw === "object" && (raw as { kind?: unknown }).kind === "causal") {
        throw new ModelMetadataError("kind", `${source} is a causal LM (localleap.json kind "causal"): it is the autoregressive half of strategy "apd", not a diffusion LM`,
            "load a diffusion LM as modelPath and pass this archive as apd.arModelPath: loadModel({ modelPath, apd: { arModelPath } }) (--ar-model on the CLI)");
    }
    const parsed = metadataSchema.safeParse(raw);
    if (!parsed.success) {
        const first = parsed.error.issues[0];
        const path = first?.path ?? [];
        const field = path.length > 0 ? path.map(String).join(".") : "localleap.json";
        const top = path[0] as keyof ModelMetadata | undefined;
        const given = formatValue(valueAt(raw, path));
        const expected = top !== undefined && top in EXPECTED ? EXPECTED[top] : first?.message ?? "an object";
        const missing = top !== undefined && path.length === 1 && typeof raw === "object" && raw !== null && !(top in raw);
        const what = missing ? "is missing" : `is ${given}`;
        const versionHint =
            top === "formatVersion"
                ? "this model was written for another localleap version: re-export it with this version's tools, or use a matching localleap"
                : undefined;
        throw new ModelMetadataError(field, `localleap.json in ${source}: ${field} ${what}; expected ${expected}`, versionHint);
    }
    const m = parsed.data as ModelMetadata & Record<string, unknown>;
    const inVocab = (field: "maskId" | "eosId" | "padId") => {
        if (m[field] >= m.vocabSize) fail(field, `${field} is ${m[field]}, outside [0, vocabSize = ${m.vocabSize})`);
    };
    const fail = (field: string, what: string): never => {
        throw new ModelMetadataError(field, `localleap.json in ${source}: ${what}`);
    };
    inVocab("maskId");
    inVocab("eosId");
    inVocab("padId");
    m.endIds.forEach((endId, i) => {
        if (endId >= m.vocabSize) fail(`endIds.${i}`, `endIds[${i}] is ${endId}, outside [0, vocabSize = ${m.vocabSize})`);
    });
    if (!m.endIds.includes(m.eosId)) fail("endIds", `endIds ${JSON.stringify(m.endIds)} does not contain eosId ${m.eosId}`);
    if (m.endIds.includes(m.maskId)) fail("endIds", `endIds ${JSON.stringify(m.endIds)} contains the mask id ${m.maskId}`);
    m.delimiterIds?.forEach((d, i) => {
        if (d >= m.vocabSize) fail(`delimiterIds.${i}`, `delimiterIds[${i}] is ${d}, outside [0, vocabSize = ${m.vocabSize})`);
        if (d === m.maskId) fail(`delimiterIds.${i}`, `delimiterIds[${i}] is the mask id ${m.maskId}`);
    });
    if (m.addBos && (m.bosToken === null || m.bosToken === "")) fail("bosToken", "addBos is true but bosToken is null or empty");
    if (m.formatVersion === 2 && m.kvCache === undefined) fail("kvCache", "formatVersion is 2 but kvCache is missing");
    if (m.formatVersion === 1 && m.kvCache !== undefined) fail("kvCache", "formatVersion is 1 but kvCache is set (it is a format-v2 field)");
    const ll = m.decodingDefaults?.localleap;
    if (ll?.anchorThreshold !== undefined && ll.relaxedThreshold !== undefined && ll.relaxedThreshold > ll.anchorThreshold) {
        fail("decodingDefaults.localleap.relaxedThreshold",
            `decodingDefaults.localleap.relaxedThreshold (${ll.relaxedThreshold}) is above anchorThreshold (${ll.anchorThreshold}); expected at most anchorThreshold`);
    }
    return m;
}

/** The fields of a causal LM's localleap.json (kind "causal", docs/model-format.md "Causal-LM archives") that APD reads. */
export interface CausalModelMetadata {
    kind: "causal";
    formatVersion: 2;
    name: string;
    architecture: "qwen2";
    vocabSize: number;
    eosId: number;
    endIds: number[];
    padId: number;
    maxLength: number;
    dtype: "float32" | "bfloat16" | "float16";
    attention: "manual" | "sdpa";
    config: Record<string, unknown>;
    kvCache: KvCacheSpec;
}

const causalSchema = z.looseObject({
    format: z.literal("localleap"),
    formatVersion: z.literal(2),
    kind: z.literal("causal"),
    name: z.string(),
    architecture: z.enum(["qwen2"]),
    vocabSize: z.number().int().min(1).max(MAX_VOCAB_SIZE),
    eosId: id(),
    endIds: z.array(id()).min(1).max(MAX_END_IDS),
    padId: id(),
    maxLength: z.number().int().min(2).max(MAX_MODEL_LENGTH),
    dtype: z.enum(["float32", "bfloat16", "float16"]),
    attention: z.enum(["manual", "sdpa"]),
    config: z.record(z.string(), z.unknown()),
    kvCache: z.strictObject({
        layers: z.number().int().min(1).max(MAX_KV_CACHE_SIZE),
        kvHeads: z.number().int().min(1).max(MAX_KV_CACHE_SIZE),
        headDim: z.number().int().min(1).max(MAX_KV_CACHE_SIZE),
    }),
});

/**
 * Parses the localleap.json of APD's causal LM (apd.arModelPath); throws {@link ModelMetadataError}
 * naming the first bad field, or saying it is a diffusion LM (no kind "causal").
 */
export function parseCausalMetadata(json: string, source: string): CausalModelMetadata {
    if (json.trim() === "") throw new ModelMetadataError("localleap.json", `${source} has no localleap.json: it is a TorchScript archive but not a localleap model`);
    let raw: unknown;
    try {
        raw = JSON.parse(json);
    } catch (error) {
        throw new ModelMetadataError("localleap.json", `localleap.json in ${source} is not valid JSON (${(error as Error).message})`);
    }
    if (raw === null || typeof raw !== "object" || (raw as { kind?: unknown }).kind !== "causal") {
        throw new ModelMetadataError("kind", `${source} (apd.arModelPath) is not a causal LM (localleap.json has no kind "causal"): APD's autoregressive model must be a causal LM archive, e.g. tools/export_hf.py on a Qwen2.5 checkpoint`);
    }
    const parsed = causalSchema.safeParse(raw);
    if (!parsed.success) {
        const first = parsed.error.issues[0];
        const field = (first?.path ?? []).map(String).join(".") || "localleap.json";
        throw new ModelMetadataError(field, `localleap.json in ${source} (a causal LM): ${field} is ${formatValue(valueAt(raw, first?.path ?? []))}; ${first?.message ?? "invalid"}`);
    }
    const m = parsed.data as CausalModelMetadata;
    const fail = (field: string, what: string): never => {
        throw new ModelMetadataError(field, `localleap.json in ${source} (a causal LM): ${what}`);
    };
    for (const field of ["eosId", "padId"] as const) if (m[field] >= m.vocabSize) fail(field, `${field} is ${m[field]}, outside [0, vocabSize = ${m.vocabSize})`);
    m.endIds.forEach((endId, i) => {
        if (endId >= m.vocabSize) fail(`endIds.${i}`, `endIds[${i}] is ${endId}, outside [0, vocabSize = ${m.vocabSize})`);
    });
    return m;
}
