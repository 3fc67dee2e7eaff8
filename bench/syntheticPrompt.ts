// Timing prompts of ordinary token ids, shared by the benches that time steps on random weights
// (bench/stepOverhead.ts, bench/cacheSteps.ts, bench/apdShapes.ts).

/** The metadata fields ordinaryPrompt reads. */
export interface PromptVocab {
    vocabSize: number;
    maskId?: number;
    endIds: readonly number[];
}

/** `length` ids below min(vocabSize, below), never the mask or an end token, spread by a stride of 7919. */
export function ordinaryPrompt(m: PromptVocab, length: number, below = 1000): Int32Array {
    const special = new Set<number>([...(m.maskId === undefined ? [] : [m.maskId]), ...m.endIds]);
    const ordinary = Array.from({ length: Math.min(m.vocabSize, below) }, (_, i) => i).filter((id) => !special.has(id));
    return Int32Array.from({ length }, (_, i) => ordinary[(i * 7919) % ordinary.length] as number);
}
