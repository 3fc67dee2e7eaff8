// AdaBlock's adaptive block length (docs/decoding.md "Adaptive blocks"): the engine against the
// plain Python reference decoder (tools/reference_decode.py, adaptiveBlock) token for token, step
// for step and block for block, on both fixture layouts (LLaDA unshifted, Dream shifted): every
// strategy, greedy and sampled, a batch of rows whose blocks differ, stopAtEos, a generation length
// that is not a multiple of blockLength, streaming positions, and single-row KV-cached calls.
// The delimiter ids are tokens the random-weight fixtures do predict (chosen from plain decodes), so
// the delimiter really ends blocks early; the test checks that it does.
import { beforeAll, describe, expect, test } from "@jest/globals";
import type { Addon, AddonCacheMode, AddonModel, AddonStepEvent, AddonStrategy } from "../../lib/bindings/AddonTypes";
import { getAddon } from "../../lib/bindings/getAddon";
import { DREAM_FIXTURE, LLADA_FIXTURE } from "../support/fixtures";
import { type ReferenceCase, runReferenceDecoder } from "../support/referenceDecoder";

const PROMPTS = [[72, 101, 108, 108, 111, 44, 32, 119], [50, 43, 50, 61], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]];
const MODELS = [
    ["llada", LLADA_FIXTURE, [36, 210, 223, 66]],
    ["dream", DREAM_FIXTURE, [108, 259, 48]],
] as const;
const GEN = 44; // not a multiple of the default block length 16: the last block is clipped
const BLOCK = 16;

type AdaptiveCase = Omit<ReferenceCase, "adaptiveBlock"> & {
    adaptiveBlock: { window: number; delimiterThreshold: number; delimiterIds: number[] };
};
type AdaptiveRow = { tokens: number[]; steps: number; stepsPerBlock: number[]; blockLengths: number[] };

let addon: Addon;
beforeAll(async () => {
    addon = (await getAddon({ device: "cpu" })).addon;
});

async function openModel(path: string, delimiterIds?: readonly number[]): Promise<AddonModel> {
    const loaded = await addon.loadModel({ path, device: "cpu", threads: 1 });
    const m = JSON.parse(loaded.metadataJson);
    await loaded.model.configure({
        vocabSize: m.vocabSize, maskId: m.maskId, eosId: m.eosId, endIds: m.endIds, padId: m.padId,
        logitsShifted: m.logitsShifted, maxLength: m.maxLength, kvCache: m.kvCache,
        ...(delimiterIds && { delimiterIds: [...delimiterIds] }),
    });
    return loaded.model;
}

function casesFor(model: string, delimiterIds: readonly number[], cache: AddonCacheMode): AdaptiveCase[] {
    const strategies: AddonStrategy[] = cache === "none" ? ["low-confidence", "random", "threshold", "localleap"] : ["threshold", "localleap"];
    const cases: AdaptiveCase[] = [];
    for (const strategy of strategies) {
        for (const [delimiterThreshold, temperature, window] of [[0, 0, 12], [0.6, 0.9, 11], [0.6, 0, 20]] as const) {
            const base = {
                model, genLength: GEN, blockLength: BLOCK, strategy, steps: 22,
                threshold: 0.8, anchorThreshold: 0.85, relaxedThreshold: 0.6, radius: 3, temperature,
                stopAtEos: window === 11, cache,
                adaptiveBlock: { window, delimiterThreshold, delimiterIds: [...delimiterIds] },
            };
            if (cache === "none") cases.push({ ...base, prompts: PROMPTS, seeds: [3, 5, 7] });
            else cases.push({ ...base, prompts: [PROMPTS[0]!], seeds: [9] });
        }
    }
    return cases;
}

describe.each(MODELS)("%s fixture", (_name, modelPath, delimiterIds) => {
    test.each(["none", "prefix", "dual"] as const)("cache %s: adaptive blocks equal the Python reference", async (cache) => {
        const cases = casesFor(modelPath, delimiterIds, cache);
        const expected = runReferenceDecoder(cases as unknown as ReferenceCase[]);
        const model = await openModel(modelPath, delimiterIds);
        let delimiterBlocks = 0, defaultBlocks = 0, rowsWithDifferentBlocks = 0, cachedSteps = 0;
        try {
            for (let i = 0; i < cases.length; i++) {
                const c = cases[i]!;
                const events: AddonStepEvent[] = [];
                const got = await model.generate({
                    ...c, prompts: c.prompts.map((p) => Int32Array.from(p)), cudaGraph: false,
                    adaptiveBlock: { window: c.adaptiveBlock.window, delimiterThreshold: c.adaptiveBlock.delimiterThreshold },
                    onStep: (e) => events.push(e),
                });
                cachedSteps += got.cachedSteps;
                const want = expected[i]!.rows as unknown as AdaptiveRow[];
                const label = `${c.strategy} thr=${c.adaptiveBlock.delimiterThreshold} T=${c.temperature} window=${c.adaptiveBlock.window} stopAtEos=${c.stopAtEos}`;
                const lengths = new Set<string>();
                got.rows.forEach((row, b) => {
                    const w = want[b]!;
                    expect({ label, b, tokens: Array.from(row.tokens) }).toEqual({ label, b, tokens: w.tokens });
                    expect({ label, b, steps: row.steps, perBlock: Array.from(row.stepsPerBlock), lengths: Array.from(row.blockLengths) })
                        .toEqual({ label, b, steps: w.steps, perBlock: w.stepsPerBlock, lengths: w.blockLengths });
                    const lens = Array.from(row.blockLengths);
                    lengths.add(lens.join(","));
                    // A block shorter than the default that is not the clipped last one ended at a delimiter.
                    let start = 0;
                    lens.forEach((len) => {
                        if (len < BLOCK && start + len < GEN) delimiterBlocks++;
                        if (len === BLOCK) defaultBlocks++;
                        start += len;
                    });
                    if (!c.stopAtEos) expect({ label, b, covered: start }).toEqual({ label, b, covered: GEN });
                    // Streaming: every committed position lies in the row's block of that step, is
                    // committed once, and holds its final token.
                    const starts = lens.map((_, k) => lens.slice(0, k).reduce((a, x) => a + x, 0));
                    const seen = new Map<number, number>();
                    for (const e of events) {
                        const er = e.rows[b]!;
                        er.positions.forEach((pos, j) => {
                            expect(pos >= starts[er.block]! && pos < starts[er.block]! + lens[er.block]!).toBe(true);
                            expect(seen.has(pos)).toBe(false);
                            seen.set(pos, er.tokens[j]!);
                        });
                    }
                    for (const [pos, token] of seen) expect(row.tokens[pos]).toBe(token);
                    expect(seen.size).toBe(start > GEN ? GEN : start);
                });
                if (got.rows.length > 1 && lengths.size > 1) rowsWithDifferentBlocks++;
            }
        } finally {
            await model.dispose();
        }
        // The delimiter must really end blocks (and the default length must apply too), and rows of a
        // batch must get different blocks, or the comparison would not exercise the rule.
        expect(delimiterBlocks).toBeGreaterThan(0);
        expect(defaultBlocks).toBeGreaterThan(0);
        if (cache === "none") expect(rowsWithDifferentBlocks).toBeGreaterThan(0);
        else expect(cachedSteps).toBeGreaterThan(0);
    }, 600_000);
});

describe("adaptive block errors", () => {
    const request = {
        prompts: [Int32Array.from(PROMPTS[0]!)], genLength: GEN, blockLength: BLOCK, strategy: "threshold" as const, steps: GEN,
        threshold: 0.9, anchorThreshold: 0.9, relaxedThreshold: 0.75, radius: 4, temperature: 0, seeds: [0],
        stopAtEos: false, cudaGraph: false, adaptiveBlock: { window: 11, delimiterThreshold: 0.3 },
    };

    test("an archive without delimiterIds rejects with ADAPTIVE_BLOCK_UNSUPPORTED", async () => {
        const model = await openModel(LLADA_FIXTURE);
        try {
            await expect(model.generate(request)).rejects.toMatchObject({ code: "ADAPTIVE_BLOCK_UNSUPPORTED", message: expect.stringContaining("re-export") });
            // Fixed blocks still need genLength to be a multiple of blockLength.
            const { adaptiveBlock: _, ...fixed } = request;
            await expect(model.generate(fixed)).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringContaining("multiple of blockLength") });
        } finally {
            await model.dispose();
        }
    });

    test("bad adaptive requests reject with INVALID_ARGUMENT naming the problem", async () => {
        const model = await openModel(LLADA_FIXTURE, [36]);
        try {
            await expect(model.generate({ ...request, adaptiveBlock: { window: 2000, delimiterThreshold: 0.3 } }))
                .rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringContaining("adaptiveBlock.window") });
            await expect(model.generate({ ...request, adaptiveBlock: { window: 4, delimiterThreshold: 1.5 } }))
                .rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringContaining("delimiterThreshold") });
            await expect(model.generate({ ...request, strategy: "low-confidence", steps: GEN + 1 }))
                .rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringContaining("steps") });
            await expect(model.generate({ ...request, prompts: [request.prompts[0]!, Int32Array.from([5, 6])], seeds: [0, 1], cache: "dual" }))
                .rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringContaining("one prompt per call") });
            // A valid request still decodes after those.
            const ok = await model.generate(request);
            expect(Array.from(ok.rows[0]!.blockLengths).reduce((a, b) => a + b, 0)).toBe(GEN);
        } finally {
            await model.dispose();
        }
    });

    test("configure rejects bad delimiterIds as MODEL_METADATA_INVALID", async () => {
        const loaded = await addon.loadModel({ path: LLADA_FIXTURE, device: "cpu", threads: 1 });
        const m = JSON.parse(loaded.metadataJson);
        const config = { vocabSize: m.vocabSize, maskId: m.maskId, eosId: m.eosId, endIds: m.endIds, padId: m.padId, logitsShifted: m.logitsShifted, maxLength: m.maxLength, kvCache: m.kvCache };
        try {
            await expect(loaded.model.configure({ ...config, delimiterIds: [m.maskId] })).rejects.toMatchObject({ code: "MODEL_METADATA_INVALID" });
            await expect(loaded.model.configure({ ...config, delimiterIds: [m.vocabSize] })).rejects.toMatchObject({ code: "MODEL_METADATA_INVALID" });
        } finally {
            await loaded.model.dispose();
        }
    });
});
