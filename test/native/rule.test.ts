import { beforeAll, describe, expect, test } from "@jest/globals";
// The commit rule of docs/decoding.md on hand-built logits, through the native CPU rule engine
// (the same code the CUDA kernel is checked against).
import type { Addon } from "../../lib/bindings/AddonTypes";
import { getAddon } from "../../lib/bindings/getAddon";
import { committedPositions, handBuiltCase, HAND_MASK, HAND_VOCAB } from "../support/handBuiltCase";

let addon: Addon;
beforeAll(async () => {
    addon = (await getAddon({ device: "cpu" })).addon;
});

const low = 0.3;

describe("localleap", () => {
    test("commits the anchors and the relaxed neighbours within W, nothing else", () => {
        //                  0    1    2    3    4    5     6    7    8    9
        const conf = [low, low, 0.7, 0.8, low, 0.95, low, 0.8, 0.8, low];
        const r = addon.applyRule(handBuiltCase(conf, "localleap", { radius: 2 }), "cpu");
        // anchor 5; 3 and 7 are within 2 and >= tau; 8 is 3 away; 2 is below tau.
        expect(committedPositions(r.commit)).toEqual([3, 5, 7]);
        expect(Array.from(r.block.slice(3, 8))).toEqual([3, HAND_MASK, 5, HAND_MASK, 7]);
    });

    test("the neighbourhood is cut at the block edges and counts committed positions too", () => {
        const conf: (number | null)[] = [0.95, 0.8, null, 0.8, 0.8, 0.8, low, low, 0.8, 0.97];
        const r = addon.applyRule(handBuiltCase(conf, "localleap", { radius: 3 }), "cpu");
        // anchor 0 reaches 1..3 (2 is not masked: distance still counts); 4 and 5 are 4-5 away;
        // anchor 9 reaches 6..8, so 8 commits.
        expect(committedPositions(r.commit)).toEqual([0, 1, 3, 8, 9]);
    });

    test("with no anchor only the most confident position commits (ties: lower position)", () => {
        const conf = [0.5, 0.85, 0.6, 0.85, 0.89, 0.89, 0.1];
        const r = addon.applyRule(handBuiltCase(conf, "localleap"), "cpu");
        expect(committedPositions(r.commit)).toEqual([4]);
    });

    test("all above kappa: every masked position commits; committed ones stay", () => {
        const conf = [0.95, null, 0.99, 0.91, null, 0.93];
        const r = addon.applyRule(handBuiltCase(conf, "localleap"), "cpu");
        expect(committedPositions(r.commit)).toEqual([0, 2, 3, 5]);
        expect(r.tokens[1]).toBe(-1);
    });

    test("relaxed threshold is >=, and W = 0 keeps only anchors", () => {
        const conf = [low, 0.75, 0.9, 0.75, low];
        expect(committedPositions(addon.applyRule(handBuiltCase(conf, "localleap", { radius: 1 }), "cpu").commit)).toEqual([1, 2, 3]);
        expect(committedPositions(addon.applyRule(handBuiltCase(conf, "localleap", { radius: 0 }), "cpu").commit)).toEqual([2]);
    });
});

describe("threshold", () => {
    test("commits the best plus every position at or above theta", () => {
        const conf = [0.2, 0.95, 0.5, 0.9, 0.89];
        const r = addon.applyRule(handBuiltCase(conf, "threshold", { threshold: 0.9 }), "cpu");
        expect(committedPositions(r.commit)).toEqual([1, 3]);
    });

    test("all below theta: exactly one", () => {
        const r = addon.applyRule(handBuiltCase([0.2, 0.4, 0.3], "threshold"), "cpu");
        expect(committedPositions(r.commit)).toEqual([1]);
    });
});

describe("low-confidence and random", () => {
    test("low-confidence commits the k most confident, ties to the lower position", () => {
        const conf = [0.5, 0.7, 0.7, 0.7, 0.99, 0.1];
        const r = addon.applyRule(handBuiltCase(conf, "low-confidence", { topK: 3 }), "cpu");
        expect(committedPositions(r.commit)).toEqual([1, 2, 4]);
    });

    test("unmasked positions are never committed, whatever their confidence", () => {
        const conf: (number | null)[] = [null, 0.2, null, 0.3];
        const r = addon.applyRule(handBuiltCase(conf, "low-confidence", { topK: 4 }), "cpu");
        expect(committedPositions(r.commit)).toEqual([1, 3]);
    });

    test("random commits exactly k, the same for a seed and different across seeds", () => {
        const conf = Array.from({ length: 32 }, (_, i) => 0.2 + i / 100);
        const pick = (seed: number) =>
            committedPositions(addon.applyRule(handBuiltCase(conf, "random", { topK: 5, seeds: [seed] }), "cpu").commit);
        expect(pick(1)).toHaveLength(5);
        expect(pick(1)).toEqual(pick(1));
        const distinct = new Set([1, 2, 3, 4, 5].map((s) => pick(s).join(",")));
        expect(distinct.size).toBeGreaterThan(1);
        expect(pick(1)).not.toEqual([27, 28, 29, 30, 31]); // not the confidence order
    });
});

describe("chosen token and confidence", () => {
    test("confidence is the softmax probability of the argmax token", () => {
        const r = addon.applyRule(handBuiltCase([0.8, 0.6], "threshold"), "cpu");
        expect(r.confidences[0]).toBeCloseTo(0.8, 6);
        expect(r.confidences[1]).toBeCloseTo(0.6, 6);
        expect(Array.from(r.tokens)).toEqual([0, 1]);
    });

    test("the mask id is never chosen, but counts in the softmax", () => {
        const logits = new Float32Array(HAND_VOCAB);
        logits[HAND_MASK] = 5;
        logits[3] = 4;
        const c = handBuiltCase([0.5], "threshold");
        c.logits = logits;
        const r = addon.applyRule(c, "cpu");
        expect(r.tokens[0]).toBe(3);
        const expected = Math.exp(4 - 5) / (Math.exp(0) + Math.exp(-1) + (HAND_VOCAB - 2) * Math.exp(-5));
        expect(r.confidences[0]).toBeCloseTo(expected, 6);
    });

    test("sampling is reproducible from the seed and follows the temperature", () => {
        const c = handBuiltCase([0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4], "low-confidence", { topK: 8, temperature: 1.5 });
        const a = addon.applyRule({ ...c, seeds: [9] }, "cpu");
        const b = addon.applyRule({ ...c, seeds: [9] }, "cpu");
        expect(Array.from(a.tokens)).toEqual(Array.from(b.tokens));
        const greedy = addon.applyRule({ ...c, temperature: 0 }, "cpu");
        const others = [1, 2, 3, 4, 5].map((s) => Array.from(addon.applyRule({ ...c, seeds: [s] }, "cpu").tokens).join());
        expect(others.some((t) => t !== Array.from(greedy.tokens).join())).toBe(true);
    });

    test("bf16 and fp16 logits give the float32 rule's result for the same values", () => {
        const c = handBuiltCase([0.95, 0.8, 0.3], "localleap");
        const bits = new Uint16Array(c.logits.length);
        const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);
        (c.logits as Float32Array).forEach((v, i) => { f32[0] = v; bits[i] = (u32[0] as number) >>> 16; });
        const asBf16 = Float32Array.from(bits, (b) => { u32[0] = b << 16; return f32[0] as number; });
        const r32 = addon.applyRule({ ...c, logits: asBf16 }, "cpu");
        const r16 = addon.applyRule({ ...c, logits: bits, dtype: "bfloat16" }, "cpu");
        expect(Array.from(r16.confidences)).toEqual(Array.from(r32.confidences));
        expect(Array.from(r16.commit)).toEqual(Array.from(r32.commit));
    });
});

describe("bad rule input", () => {
    test("wrong sizes give INVALID_ARGUMENT, not a crash", () => {
        const c = handBuiltCase([0.5, 0.5], "threshold");
        expect(() => addon.applyRule({ ...c, vocabSize: 17 }, "cpu")).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
        expect(() => addon.applyRule({ ...c, seeds: [] }, "cpu")).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
        expect(() => addon.applyRule(c, "cuda")).toThrow(expect.objectContaining({ code: "CUDA_UNAVAILABLE" }));
    });
});

describe("mixed rows (issue 13: the scheduler's rows keep their own parameters)", () => {
    test("each row of a mixed step equals that row decided alone", async () => {
        const { randomRuleCase } = await import("../support/ruleCases");
        const { Prng } = await import("../support/prng");
        const rng = new Prng(1313);
        const kinds = [
            { strategy: "localleap", temperature: 0 }, { strategy: "threshold", threshold: 0.5, temperature: 0.7 },
            { strategy: "low-confidence", topK: 3, temperature: 0 }, { strategy: "random", topK: 2, temperature: 1.1, genOffset: 16 },
            { strategy: "localleap", radius: 1, anchorThreshold: 0.6, relaxedThreshold: 0.3, temperature: 0.5 },
        ] as const;
        let commits = 0;
        for (const [batch, blockLength, vocabSize] of [[5, 16, 301], [5, 8, 8193], [3, 32, 1000]] as const) {
            const base = randomRuleCase(rng, { batch, blockLength, vocabSize, dtype: "float32", strategy: "localleap", temperature: 0 });
            const rows = Array.from({ length: batch }, (_, b) => ({ ...kinds[b % kinds.length] }));
            const mixed = addon.applyRule({ ...base, rows }, "cpu");
            for (let b = 0; b < batch; b++) {
                const cells = [b * blockLength, (b + 1) * blockLength] as const;
                const alone = addon.applyRule({
                    ...base, ...rows[b], batch: 1,
                    logits: (base.logits as Float32Array).slice(cells[0] * vocabSize, cells[1] * vocabSize),
                    block: base.block.slice(...cells), seeds: [base.seeds[b] as number], rowSteps: [base.rowSteps[b] as number],
                }, "cpu");
                expect({ b, tokens: Array.from(mixed.tokens.slice(...cells)), conf: Array.from(mixed.confidences.slice(...cells)),
                    commit: Array.from(mixed.commit.slice(...cells)), block: Array.from(mixed.block.slice(...cells)) })
                    .toEqual({ b, tokens: Array.from(alone.tokens), conf: Array.from(alone.confidences), commit: Array.from(alone.commit), block: Array.from(alone.block) });
                commits += alone.commit.reduce((s, x) => s + x, 0);
            }
        }
        expect(commits).toBeGreaterThan(0);
    });
});

describe("adaptive block length (AdaBlock, docs/decoding.md \"Adaptive blocks\")", () => {
    // Position i's top token is i % 14 (handBuiltCase), so delimiter id d is predicted at offset d.
    const adaptive = (delimiterIds: number[], delimiterThreshold: number) => ({ window: 6, fallbackLength: 8, delimiterIds, delimiterThreshold });
    //             0    1    2    3    4    5    6    7     8    9
    const conf = [low, low, low, 0.4, low, 0.6, low, 0.99, low, 0.99];

    test("the most confident delimiter in the window ends the block there, inclusive; the step commits within it", () => {
        const r = addon.applyRule(handBuiltCase(conf, "threshold", { adaptive: adaptive([3, 5], 0.5) }), "cpu");
        expect(Array.from(r.blockLengths)).toEqual([6]);
        expect(committedPositions(r.commit)).toEqual([5]); // the top-1 of [0, 6); offsets 7 and 9 are past the block
    });

    test("below the threshold, or outside the window, the default length applies", () => {
        const r = addon.applyRule(handBuiltCase(conf, "threshold", { adaptive: adaptive([3, 5], 0.7) }), "cpu");
        expect(Array.from(r.blockLengths)).toEqual([8]);
        expect(committedPositions(r.commit)).toEqual([7]); // 7 is in [0, 8), 9 is not
        const outside = addon.applyRule(handBuiltCase(conf, "threshold", { adaptive: adaptive([7], 0.1) }), "cpu");
        expect(Array.from(outside.blockLengths)).toEqual([8]);
    });

    test("equal confidences go to the lowest offset; committed positions are not candidates", () => {
        const tie = [low, low, low, 0.6, low, 0.6, low, low, low, low];
        expect(Array.from(addon.applyRule(handBuiltCase(tie, "threshold", { adaptive: adaptive([3, 5], 0.5) }), "cpu").blockLengths)).toEqual([4]);
        const done = [low, low, low, null, low, 0.6, low, low, low, low];
        expect(Array.from(addon.applyRule(handBuiltCase(done, "threshold", { adaptive: adaptive([3, 5], 0.5) }), "cpu").blockLengths)).toEqual([6]);
    });

    test("without adaptive the block length is the case's", () => {
        expect(Array.from(addon.applyRule(handBuiltCase(conf, "threshold"), "cpu").blockLengths)).toEqual([10]);
    });
});
