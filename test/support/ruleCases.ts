import type { AddonDType, AddonRuleCase, AddonStrategy } from "../../lib/bindings/AddonTypes";
import { Prng } from "./prng";

export const STRATEGIES: readonly AddonStrategy[] = ["low-confidence", "random", "threshold", "localleap"];

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** bfloat16 bits of a float32 value (truncation: any bit pattern is a valid input). */
export function bf16Bits(value: number): number {
    f32[0] = value;
    return (u32[0] as number) >>> 16;
}

/** float16 bits of a float32 value (round toward zero; +-inf past the range). */
export function fp16Bits(value: number): number {
    f32[0] = value;
    const bits = u32[0] as number;
    const sign = (bits >>> 16) & 0x8000;
    const exp = ((bits >>> 23) & 0xff) - 127 + 15;
    const mant = bits & 0x7fffff;
    if (Number.isNaN(value)) return 0x7e00;
    if (exp >= 31) return sign | 0x7c00;
    if (exp <= 0) {
        if (exp < -10) return sign;
        return sign | ((mant | 0x800000) >>> (14 - exp));
    }
    return sign | (exp << 10) | (mant >>> 13);
}

/** One row of logits in a "mode" that exercises a part of the rule. */
function fillRow(rng: Prng, row: Float32Array, mode: number): void {
    const v = row.length;
    switch (mode) {
        case 0: { // plain random, a random sharpness: confidences from ~1/V to ~1
            const scale = rng.pick([0.05, 0.5, 2, 6, 15]);
            for (let i = 0; i < v; i++) row[i] = rng.normal() * scale;
            break;
        }
        case 1: { // one spike whose margin puts the confidence near a threshold
            for (let i = 0; i < v; i++) row[i] = rng.normal() * 0.01;
            const target = rng.pick([0.74, 0.75, 0.76, 0.89, 0.9, 0.91, 0.5, 0.99]);
            row[rng.int(0, v - 1)] = Math.log(target / (1 - target)) + Math.log(Math.max(v - 1, 1));
            break;
        }
        case 2: // all equal: argmax is token 0, confidence 1/V
            row.fill(rng.pick([0, 1.5, -3]));
            break;
        case 3: { // two equal maxima: the lower index wins
            for (let i = 0; i < v; i++) row[i] = rng.normal();
            const a = rng.int(0, v - 1), b = rng.int(0, v - 1);
            row[a] = 9;
            row[b] = 9;
            break;
        }
        default: { // extreme values: -inf and NaN entries (NaN counts as -inf) and a huge maximum
            for (let i = 0; i < v; i++) {
                const u = rng.next();
                row[i] = u < 0.3 ? -Infinity : u < 0.35 ? NaN : rng.normal() * 3;
            }
            row[rng.int(0, v - 1)] = rng.pick([40, 1e4]);
        }
    }
}

/** A token already in the canvas: any id but the mask's. */
function committedToken(rng: Prng, vocabSize: number, maskId: number): number {
    const token = rng.int(0, vocabSize - 1);
    return token === maskId ? (token + 1) % vocabSize : token;
}

export interface CaseShape {
    batch: number;
    blockLength: number;
    vocabSize: number;
    dtype: AddonDType;
    strategy: AddonStrategy;
    temperature: number;
}

/**
 * A random rule case: logits with ties, spikes and flat rows, a random mask pattern. The mask id
 * is outside the vocabulary or, as in real models, one of its tokens (never chosen, but counted
 * in the softmax), so that the kernel's paths for chunks with and without it both run.
 */
export function randomRuleCase(rng: Prng, shape: CaseShape): AddonRuleCase {
    const { batch, blockLength, vocabSize } = shape;
    const maskId = vocabSize > 1 && rng.next() < 0.5 ? rng.int(0, vocabSize - 1) : vocabSize;
    const values = new Float32Array(batch * blockLength * vocabSize);
    for (let p = 0; p < batch * blockLength; p++) {
        const row = values.subarray(p * vocabSize, (p + 1) * vocabSize);
        if (p > 0 && rng.next() < 0.1) {
            row.set(values.subarray((p - 1) * vocabSize, p * vocabSize)); // a duplicate: equal confidences
        } else {
            fillRow(rng, row, rng.int(0, 4));
        }
    }
    const block = new Int32Array(batch * blockLength);
    for (let b = 0; b < batch; b++) {
        const maskedShare = rng.pick([1, 1, 0.5, 0.1, 0]);
        for (let i = 0; i < blockLength; i++) {
            block[b * blockLength + i] = rng.next() < maskedShare ? maskId : committedToken(rng, vocabSize, maskId);
        }
    }
    const logits =
        shape.dtype === "float32"
            ? values
            : Uint16Array.from(values, shape.dtype === "bfloat16" ? bf16Bits : fp16Bits);
    const anchorThreshold = rng.pick([0.9, 0.5, 0.99, 0.75]);
    return {
        logits,
        dtype: shape.dtype,
        batch,
        blockLength,
        vocabSize,
        block,
        maskId,
        strategy: shape.strategy,
        topK: rng.int(1, blockLength),
        threshold: rng.pick([0.9, 0.5, 0.0, 1.0]),
        anchorThreshold,
        relaxedThreshold: Math.min(anchorThreshold, rng.pick([0.75, 0.6, 0.3])),
        radius: rng.pick([0, 1, 4, 70]),
        temperature: shape.temperature,
        seeds: Array.from({ length: batch }, () => rng.int(0, 2 ** 31)),
        rowSteps: Array.from({ length: batch }, () => rng.int(0, 200)),
        genOffset: rng.int(0, 512),
    };
}
