import { z } from "zod";
import type { AddonLearnedFilter } from "./bindings/AddonTypes";
import { LearnedFilterError } from "./errors";

/** Largest block length a learned filter may be trained for (the rule's block length limit). */
export const MAX_FILTER_BLOCK_LENGTH = 1024;
/** Largest hidden layer of a learned filter (native/kernels/rule_types.h kMaxFilterHidden). */
export const MAX_FILTER_HIDDEN = 256;

/**
 * Where a learned filter came from (learned_filter.json `provenance`, written by
 * tools/train_filter.py): the model, the prompts decoded for its training data, the decode's
 * sizes, the date. Informational: generate() reads only the weights and acceptThreshold.
 */
export interface LearnedFilterProvenance {
    /** The model the one-token-per-step decodes ran on. */
    model: string;
    /** ISO 8601 time of the training. */
    date: string;
    /** genLength of the training decodes. */
    genLength: number;
    /** The prompt set decoded, and the ids of its problems that were used. */
    problems: { source: string; split: string; count: number; ids: string[] };
    /** Other details (tool, samples, epochs, validation accuracy). */
    [key: string]: unknown;
}

/** What {@link ModelInfo.learnedFilter} says about the archive's learned filter. */
export interface LearnedFilterInfo {
    /** The block length it was trained for: strategy "learned" takes blockLength up to this. */
    blockLength: number;
    /** Hidden units of its MLP. */
    hidden: number;
    /** The accept threshold t generate() uses when the options give none. */
    acceptThreshold: number;
    provenance: LearnedFilterProvenance;
}

/** A parsed learned_filter.json: the summary and the weights for the engine. */
export interface ParsedLearnedFilter {
    info: LearnedFilterInfo;
    weights: AddonLearnedFilter;
}

// A weight: a finite JSON number that is exactly a float32 value (the exporter writes float32s so that they round-trip).
const weight = () => z.number().refine((x) => Number.isFinite(x) && Math.fround(x) === x, { message: "not a float32 value" });

const schema = z.strictObject({
    format: z.literal(1),
    blockLength: z.number().int().min(1).max(MAX_FILTER_BLOCK_LENGTH),
    hidden: z.number().int().min(1).max(MAX_FILTER_HIDDEN),
    w1: z.array(z.array(weight())),
    b1: z.array(weight()),
    w2: z.array(z.array(weight())),
    b2: z.array(weight()),
    acceptThreshold: z.number().min(0).max(1),
    provenance: z.looseObject({
        model: z.string(),
        date: z.string(),
        genLength: z.number().int().min(0),
        problems: z.looseObject({ source: z.string(), split: z.string(), count: z.number().int().min(0), ids: z.array(z.string()) }),
    }),
});

function invalid(modelPath: string, what: string): never {
    throw new LearnedFilterError("LEARNED_FILTER_INVALID", `${modelPath}: its learned_filter.json ${what}`);
}

/** Flattens rows x cols nested arrays, checking the shape. */
function matrix(modelPath: string, name: string, value: number[][], rows: number, cols: number): Float32Array {
    if (value.length !== rows) invalid(modelPath, `has ${name} with ${value.length} rows, expected ${rows}`);
    const out = new Float32Array(rows * cols);
    value.forEach((row, r) => {
        if (row.length !== cols) invalid(modelPath, `has ${name}[${r}] with ${row.length} values, expected ${cols}`);
        out.set(row, r * cols);
    });
    return out;
}

function vector(modelPath: string, name: string, value: number[], length: number): Float32Array {
    if (value.length !== length) invalid(modelPath, `has ${name} with ${value.length} values, expected ${length}`);
    return Float32Array.from(value);
}

/**
 * Validates an archive's learned_filter.json (docs/decoding.md "Learned filter"): null when the
 * archive has none (""), else the filter; LearnedFilterError LEARNED_FILTER_INVALID saying what
 * is wrong (not JSON, a missing or extra field, a shape that does not match blockLength and
 * hidden, a weight that is not a finite float32).
 */
export function parseLearnedFilter(json: string, modelPath: string): ParsedLearnedFilter | null {
    if (json.trim() === "") return null;
    let raw: unknown;
    try {
        raw = JSON.parse(json);
    } catch (error) {
        invalid(modelPath, `is not JSON (${(error as Error).message})`);
    }
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const where = issue.path.length === 0 ? "" : ` at ${issue.path.join(".")}`;
        invalid(modelPath, `is invalid${where}: ${issue.message}`);
    }
    const f = parsed.data;
    const weights: AddonLearnedFilter = {
        blockLength: f.blockLength,
        hidden: f.hidden,
        w1: matrix(modelPath, "w1", f.w1, f.hidden, f.blockLength),
        b1: vector(modelPath, "b1", f.b1, f.hidden),
        w2: matrix(modelPath, "w2", f.w2, f.blockLength, f.hidden),
        b2: vector(modelPath, "b2", f.b2, f.blockLength),
    };
    return {
        info: { blockLength: f.blockLength, hidden: f.hidden, acceptThreshold: f.acceptThreshold, provenance: f.provenance as LearnedFilterProvenance },
        weights,
    };
}
