import type { AddonRuleCase, AddonStrategy } from "../../lib/bindings/AddonTypes";

export const HAND_VOCAB = 16;
export const HAND_MASK = 15;

/** Logits of one position whose top token `token` has softmax probability `conf` (V = 16). */
export function logitsWithConfidence(conf: number, token: number): Float32Array {
    const row = new Float32Array(HAND_VOCAB);
    // p = e^L / (e^L + V - 1)  =>  L = ln(p (V - 1) / (1 - p)); the rest stay at 0.
    row[token] = conf >= 1 ? 60 : Math.log((conf * (HAND_VOCAB - 1)) / (1 - conf));
    return row;
}

/**
 * A one-row rule case from per-position confidences; `null` marks a position that is already
 * committed (not masked). Position i's top token is i % 14, so commits are easy to read.
 */
export function handBuiltCase(
    confidences: (number | null)[],
    strategy: AddonStrategy,
    overrides: Partial<AddonRuleCase> = {},
): AddonRuleCase {
    const blockLength = confidences.length;
    const logits = new Float32Array(blockLength * HAND_VOCAB);
    const block = new Int32Array(blockLength);
    confidences.forEach((c, i) => {
        logits.set(logitsWithConfidence(c ?? 0.99, i % 14), i * HAND_VOCAB);
        block[i] = c === null ? 14 : HAND_MASK;
    });
    return {
        logits, dtype: "float32", batch: 1, blockLength, vocabSize: HAND_VOCAB, block, maskId: HAND_MASK, strategy,
        topK: 1, threshold: 0.9, anchorThreshold: 0.9, relaxedThreshold: 0.75, radius: 4, temperature: 0,
        seeds: [0], rowSteps: [0], genOffset: 0, ...overrides,
    };
}

/** Block offsets committed by a rule result. */
export function committedPositions(commit: Uint8Array): number[] {
    return Array.from(commit).flatMap((c, i) => (c ? [i] : []));
}
