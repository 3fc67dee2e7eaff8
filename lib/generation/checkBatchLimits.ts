import { totalmem } from "node:os";
import { InvalidInputError } from "../errors";

/**
 * Most rows one generate() batch may hold. One decoding step runs every row through the model
 * and an abort can only take effect between steps, so the step must stay short enough to stop;
 * 4096 is also the native forward benchmark's bound. Split larger batches into several calls.
 */
export const MAX_BATCH_ROWS = 4096;

/** Fraction of the machine's memory (os.totalmem()) a batch's logits may be estimated to take. */
export const MAX_BATCH_MEMORY_FRACTION = 0.5;

/** Refuses a batch with more rows than MAX_BATCH_ROWS, before any prompt is encoded. */
export function checkBatchRows(rows: number): void {
    if (rows > MAX_BATCH_ROWS) {
        throw new InvalidInputError(
            `the batch has ${rows} rows; at most ${MAX_BATCH_ROWS} are decoded at once (each step runs every row, and an abort waits for the step)`,
            `split the inputs into generate() calls of at most ${MAX_BATCH_ROWS} rows`,
        );
    }
}

/**
 * Bytes of float32 logits one step over the whole canvas would take: rows x (longest prompt +
 * genLength) x vocabSize x 4. An upper estimate of the step's working memory, used to refuse a
 * batch that cannot fit before it starts.
 */
export function estimatedStepBytes(rows: number, canvasLength: number, vocabSize: number): number {
    return rows * canvasLength * vocabSize * 4;
}

/**
 * Refuses a batch whose estimated step memory (plus `cacheBytes` of host KV cache) exceeds
 * MAX_BATCH_MEMORY_FRACTION of the machine's memory.
 */
export function checkBatchMemory(rows: number, canvasLength: number, vocabSize: number, memoryBytes = totalmem(), cacheBytes = 0): void {
    const logitBytes = estimatedStepBytes(rows, canvasLength, vocabSize);
    const bytes = logitBytes + cacheBytes;
    const limit = memoryBytes * MAX_BATCH_MEMORY_FRACTION;
    if (bytes > limit) {
        const gib = (n: number) => (n / 2 ** 30).toFixed(1);
        throw new InvalidInputError(
            `the batch (${rows} rows x ${canvasLength} positions x vocabSize ${vocabSize}) needs about ${gib(logitBytes)} GiB of logits a step` +
                (cacheBytes > 0 ? ` and ${gib(cacheBytes)} GiB of KV cache (${gib(bytes)} GiB in all), ` : ", ") +
                `over half of this machine's ${gib(memoryBytes)} GiB`,
            `use fewer rows per call, a shorter genLength or shorter prompts${cacheBytes > 0 ? ', or cache: "none"' : ""}`,
        );
    }
}
