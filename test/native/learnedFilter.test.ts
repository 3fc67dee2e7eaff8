// Strategy "learned" (Learn2PD's learned filter, docs/decoding.md "Learned filter"): the rule on
// hand-built and random cases (CPU against the Python reference's float32 fmaf emulation, bit for
// bit), the whole decode against tools/reference_decode.py token for token and step for step, and
// the typed errors of a missing, invalid or too-short filter.
import { beforeAll, describe, expect, test } from "@jest/globals";
import path from "node:path";
import type { Addon, AddonCacheMode, AddonModel } from "../../lib/bindings/AddonTypes";
import { getAddon } from "../../lib/bindings/getAddon";
import { loadModel } from "../../lib/loadModel";
import { DREAM_FIXTURE, LLADA_FIXTURE } from "../support/fixtures";
import { committedPositions, handBuiltCase } from "../support/handBuiltCase";
import { archiveWithFilter, filterJson, identityFilter, pythonLearnedCommits, randomFilter } from "../support/learnedFilter";
import { Prng } from "../support/prng";
import { type ReferenceCase, runReferenceDecoder } from "../support/referenceDecoder";
import { randomRuleCase } from "../support/ruleCases";

let addon: Addon;
beforeAll(async () => {
    addon = (await getAddon({ device: "cpu" })).addon;
});

describe("the learned rule on hand-built confidences", () => {
    const learned = (conf: (number | null)[], acceptThreshold: number, filter = identityFilter(conf.length)) =>
        committedPositions(addon.applyRule(handBuiltCase(conf, "learned", { acceptThreshold, learnedFilter: filter }), "cpu").commit);

    test("the top-1 plus every masked position whose sigmoid(logit) passes t, strictly", () => {
        // logit_i = 10 c_i - 5: above log(t / (1 - t)) = 0 for t = 0.5 exactly when c_i > 0.5.
        expect(learned([0.2, 0.6, 0.51, 0.4], 0.5)).toEqual([1, 2]);
        expect(learned([0.2, 0.3, 0.25, 0.4], 0.5)).toEqual([3]); // none passes: the most confident alone
        // t = 0.99: logit > 4.595, so c > 0.9595
        expect(learned([0.97, 0.95, 0.99, 0.1], 0.99)).toEqual([0, 2]);
        expect(learned([0.2, null, 0.7, 0.6], 0.5)).toEqual([2, 3]); // a decoded position is never committed
    });

    test("t = 1 commits only the top-1 and t = 0 every masked position", () => {
        const strong = identityFilter(4);
        strong.b2.fill(1e30); // huge logits: still nothing beyond the top-1 at t = 1
        expect(learned([0.99, 0.98, 0.97, 0.96], 1, strong)).toEqual([0]);
        const weak = identityFilter(4);
        weak.b2.fill(-1e30); // logits near -inf: t = 0 still accepts them (-inf is the bound)
        expect(learned([0.1, null, 0.2, 0.3], 0, weak)).toEqual([0, 2, 3]);
    });

    test("decoded positions and positions past a shorter block read 1.0", () => {
        // logit_0 = 10 x_1 - 5: position 0 follows position 1's input.
        const filter = identityFilter(4, { 0: 1 });
        expect(learned([0.1, 0.2, 0.3, 0.4], 0.5, filter)).toEqual([3]);
        expect(learned([0.1, null, 0.3, 0.4], 0.5, filter)).toEqual([0, 3]);
        // A block of 3 under a filter of 4: x_3 = 1.0, so logit_0 = 10 * 1 - 5 > 0.
        const past = identityFilter(4, { 0: 3 });
        expect(learned([0.1, 0.2, 0.3], 0.5, past)).toEqual([0, 2]);
    });

    test("a case without a filter, a filter shorter than the block, or a bad weight is refused", () => {
        const c = handBuiltCase([0.5, 0.5, 0.5, 0.5], "learned");
        expect(() => addon.applyRule(c, "cpu")).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
        expect(() => addon.applyRule({ ...c, learnedFilter: identityFilter(3) }, "cpu")).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
        const nan = identityFilter(4);
        nan.w2[3] = NaN;
        expect(() => addon.applyRule({ ...c, learnedFilter: nan }, "cpu")).toThrow(expect.objectContaining({ code: "LEARNED_FILTER_INVALID" }));
        const short = identityFilter(4);
        expect(() => addon.applyRule({ ...c, learnedFilter: { ...short, b1: short.b1.subarray(1) } }, "cpu"))
            .toThrow(expect.objectContaining({ code: "LEARNED_FILTER_INVALID" }));
    });
});

describe("the learned rule on random cases, against the Python reference bit for bit", () => {
    test("CPU commit sets equal commit_rule.py's (its float32 fmaf emulation of learned_filter.h)", () => {
        const rng = new Prng(2509);
        const cases = [];
        const engine: number[][] = [];
        let beyondTop1 = 0;
        for (const [blockLength, filterLength, hidden] of [[8, 8, 8], [16, 16, 32], [13, 16, 5], [32, 32, 32], [32, 64, 48]] as const) {
            for (const t of [0.96, 0.9, 0.5, 0.1, 0, 1]) {
                const base = randomRuleCase(rng, { batch: 1, blockLength, vocabSize: 301, dtype: "float32", strategy: "learned", temperature: 0 });
                const filter = randomFilter(filterLength, hidden, () => rng.next());
                const r = addon.applyRule({ ...base, acceptThreshold: t, learnedFilter: filter }, "cpu");
                const masked = Array.from(base.block, (id) => id === base.maskId);
                engine.push(Array.from(r.commit));
                const n = r.commit.reduce((s, x) => s + x, 0);
                if (n > 1) beyondTop1++;
                if (t === 1) expect(n).toBe(masked.some(Boolean) ? 1 : 0);
                cases.push({ conf: Array.from(r.confidences), masked, filter: filterJson(filter), acceptThreshold: t });
            }
        }
        expect(pythonLearnedCommits(cases)).toEqual(engine);
        expect(beyondTop1).toBeGreaterThan(5); // the filter really accepts positions beyond the top-1
    });
});

describe("mixed rows with learned rows (CPU)", () => {
    test("each row of a mixed step equals that row decided alone", () => {
        const rng = new Prng(1515);
        const kinds = [
            { strategy: "learned", acceptThreshold: 0.9 }, { strategy: "localleap" }, { strategy: "learned", acceptThreshold: 0.3, temperature: 0.7 },
            { strategy: "threshold", threshold: 0.5 }, { strategy: "low-confidence", topK: 3 },
        ] as const;
        let learnedCommits = 0;
        for (const [batch, blockLength, vocabSize] of [[5, 16, 301], [5, 8, 8193]] as const) {
            const base = { ...randomRuleCase(rng, { batch, blockLength, vocabSize, dtype: "float32", strategy: "localleap", temperature: 0 }), learnedFilter: randomFilter(16, 32, () => rng.next()) };
            const rows = Array.from({ length: batch }, (_, b) => ({ ...kinds[b % kinds.length] }));
            const mixed = addon.applyRule({ ...base, rows }, "cpu");
            for (let b = 0; b < batch; b++) {
                const cells = [b * blockLength, (b + 1) * blockLength] as const;
                const alone = addon.applyRule({
                    ...base, ...rows[b], batch: 1, logits: (base.logits as Float32Array).slice(cells[0] * vocabSize, cells[1] * vocabSize),
                    block: base.block.slice(...cells), seeds: [base.seeds[b] as number], rowSteps: [base.rowSteps[b] as number],
                }, "cpu");
                expect({ b, commit: Array.from(mixed.commit.slice(...cells)), block: Array.from(mixed.block.slice(...cells)) })
                    .toEqual({ b, commit: Array.from(alone.commit), block: Array.from(alone.block) });
                if (kinds[b % kinds.length]!.strategy === "learned") learnedCommits += alone.commit.reduce((s, x) => s + x, 0);
            }
        }
        expect(learnedCommits).toBeGreaterThan(4);
    });
});

const PROMPTS = [[72, 101, 108, 108, 111, 44, 32, 119], [50, 43, 50, 61], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]];

async function openModel(file: string): Promise<AddonModel> {
    const loaded = await addon.loadModel({ path: file, device: "cpu", threads: 1 });
    const m = JSON.parse(loaded.metadataJson);
    const { parseLearnedFilter } = await import("../../lib/learnedFilter");
    const filter = parseLearnedFilter(loaded.learnedFilterJson, file);
    await loaded.model.configure({
        vocabSize: m.vocabSize, maskId: m.maskId, eosId: m.eosId, endIds: m.endIds, padId: m.padId, logitsShifted: m.logitsShifted,
        maxLength: m.maxLength, kvCache: m.kvCache, ...(filter !== null && { learnedFilter: filter.weights }),
    });
    return loaded.model;
}

describe.each([["llada", LLADA_FIXTURE], ["dream", DREAM_FIXTURE]] as const)("%s fixture with a random filter", (_name, fixture) => {
    let archive: string;
    beforeAll(() => {
        archive = archiveWithFilter(fixture, null, "filtered"); // tools/add_filter.py --random --block-length 16
    });

    test.each(["none", "dual"] as AddonCacheMode[])("engine decode equals the Python reference decoder, cache %s", async (cache) => {
        const cases: ReferenceCase[] = [];
        for (const blockLength of [8, 16]) {
            for (const temperature of [0, 0.9]) {
                for (const acceptThreshold of [0.9, 0.6, 0, 1]) {
                    cases.push({
                        model: archive, prompts: PROMPTS, genLength: 48, blockLength, strategy: "learned", steps: 48,
                        threshold: 0.9, anchorThreshold: 0.9, relaxedThreshold: 0.75, radius: 4, acceptThreshold, temperature,
                        seeds: [3, 5, 7], stopAtEos: blockLength === 8, cache,
                    });
                }
            }
        }
        const expected = runReferenceDecoder(cases);
        const model = await openModel(archive);
        let parallel = 0;
        try {
            for (let i = 0; i < cases.length; i++) {
                const c = cases[i]!;
                const got = await model.generate({ ...c, prompts: c.prompts.map((p) => Int32Array.from(p)), cudaGraph: false });
                const want = expected[i]!;
                const label = `Lb=${c.blockLength} T=${c.temperature} t=${c.acceptThreshold}`;
                got.rows.forEach((row, b) => {
                    expect({ label, b, tokens: Array.from(row.tokens), perBlock: Array.from(row.stepsPerBlock) })
                        .toEqual({ label, b, tokens: want.rows[b]!.tokens, perBlock: want.rows[b]!.stepsPerBlock });
                    const blocks = row.stepsPerBlock.filter((s) => s > 0).length;
                    // t = 1: one token per step; t = 0: a block in one step.
                    if (c.acceptThreshold === 1) expect({ label, steps: row.steps }).toEqual({ label, steps: blocks * c.blockLength });
                    if (c.acceptThreshold === 0) expect({ label, steps: row.steps }).toEqual({ label, steps: blocks });
                    if (c.acceptThreshold === 0.9 && row.steps < blocks * c.blockLength) parallel++;
                });
            }
        } finally {
            await model.dispose();
        }
        expect(parallel).toBeGreaterThan(0); // at t = 0.9 some steps commit more than the top-1
    }, 600_000);
});

describe("the public API", () => {
    test("model.info.learnedFilter, generate with strategy learned, and the typed errors", async () => {
        const filtered = archiveWithFilter(LLADA_FIXTURE, null, "api");
        const model = await loadModel({ modelPath: filtered, device: "cpu", threads: 1 });
        try {
            expect(model.info.learnedFilter).toMatchObject({ blockLength: 16, hidden: 32, acceptThreshold: 0.9 });
            const r = await model.generate([1, 2, 3, 4], { strategy: "learned", genLength: 32, blockLength: 16 });
            expect(r.tokens.length).toBeGreaterThan(0);
            const strict = await model.generate([1, 2, 3, 4], { strategy: "learned", genLength: 32, blockLength: 16, acceptThreshold: 1 });
            expect(strict.steps).toBe(32);
            await expect(model.generate([1, 2, 3], { strategy: "learned", genLength: 32, blockLength: 32 }))
                .rejects.toMatchObject({ code: "INVALID_OPTIONS", issues: [expect.objectContaining({ field: "blockLength" })] });
            await expect(model.generate([1, 2, 3], { strategy: "localleap", acceptThreshold: 0.5 } as never))
                .rejects.toMatchObject({ code: "INVALID_OPTIONS", issues: [expect.objectContaining({ field: "acceptThreshold" })] });
            await expect(model.generate([1, 2, 3], { strategy: "learned", acceptThreshold: 1.5 }))
                .rejects.toMatchObject({ code: "INVALID_OPTIONS" });
        } finally {
            await model.dispose();
        }

        const plain = await loadModel({ modelPath: LLADA_FIXTURE, device: "cpu", threads: 1 });
        try {
            expect(plain.info.learnedFilter).toBeNull();
            await expect(plain.generate([1, 2, 3], { strategy: "learned" }))
                .rejects.toMatchObject({ code: "LEARNED_FILTER_MISSING", name: "LearnedFilterError", hint: expect.stringContaining("tools/add_filter.py") });
            // The engine refuses it too, when a caller bypasses the TS checks.
            const native = (plain as unknown as { parts: { native: AddonModel } }).parts.native;
            await expect(native.generate({
                prompts: [Int32Array.from([1, 2, 3])], genLength: 32, blockLength: 32, strategy: "learned", steps: 32, threshold: 0.9,
                anchorThreshold: 0.9, relaxedThreshold: 0.75, radius: 4, acceptThreshold: 0.9, temperature: 0, seeds: [0], stopAtEos: false, cudaGraph: false,
            })).rejects.toMatchObject({ code: "LEARNED_FILTER_MISSING" });
        } finally {
            await plain.dispose();
        }
    }, 120_000);

    test("the embedded default model carries the shipped filter (models/reference/learned_filter.json)", async () => {
        const { readFileSync } = await import("node:fs");
        const { parseLearnedFilter } = await import("../../lib/learnedFilter");
        const { defaultModelPath } = await import("../../lib/utils/defaultModelPath");
        const shipped = path.join(path.dirname(defaultModelPath()), "learned_filter.json");
        const want = parseLearnedFilter(readFileSync(shipped, "utf8"), shipped)!;
        const model = await loadModel({ device: "cpu", threads: 1 });
        try {
            expect(model.info.learnedFilter).toEqual(want.info);
            const prompt = "Tom has 3 apples. He buys 4 more. How many apples does he have now?";
            const learned = await model.generate(prompt, { strategy: "learned", genLength: 64, stopAtEos: true });
            const baseline = await model.generate(prompt, { strategy: "low-confidence", genLength: 64, stopAtEos: true });
            expect(learned.steps).toBeLessThan(baseline.steps); // the trained filter commits several tokens per step
        } finally {
            await model.dispose();
        }
    }, 120_000);

    test.each([
        ["not JSON", "{oops", /not JSON/],
        ["a missing field", JSON.stringify({ ...filterJson(identityFilter(4)), b2: undefined }), /b2/],
        ["a shape that does not match", JSON.stringify({ ...filterJson(identityFilter(4)), hidden: 3 }), /w1 with 4 rows, expected 3/],
        ["a weight that is not a float32", JSON.stringify({ ...filterJson(identityFilter(4)), b1: [0.1, 0, 0, 0] }), /float32/],
        ["an unknown field", JSON.stringify({ ...filterJson(identityFilter(4)), extra: 1 }), /extra/],
        ["a block length over the limit", JSON.stringify({ ...filterJson(identityFilter(4)), blockLength: 4096 }), /blockLength/],
    ])("loadModel refuses a learned_filter.json with %s (LEARNED_FILTER_INVALID)", async (_what, text, message) => {
        const archive = archiveWithFilter(LLADA_FIXTURE, text, "bad", true);
        await expect(loadModel({ modelPath: archive, device: "cpu", threads: 1 }))
            .rejects.toMatchObject({ code: "LEARNED_FILTER_INVALID", message: expect.stringMatching(message) });
    }, 60_000);

    test("an oversized learned_filter.json is refused before it is read", async () => {
        const archive = archiveWithFilter(LLADA_FIXTURE, " ".repeat((1 << 20) + 1), "huge", true);
        await expect(loadModel({ modelPath: archive, device: "cpu", threads: 1 }))
            .rejects.toMatchObject({ code: "LEARNED_FILTER_INVALID", message: expect.stringContaining("learned_filter.json") });
    }, 60_000);
});
