// The engine's whole decode loop against the plain Python reference decoder
// (tools/reference_decode.py, run with Debian's torch 1.13) on random-weight models exported by
// the export tool: token for token and step for step, every strategy, two block lengths, greedy
// and sampled, with and without stopAtEos, a batch of prompts of different lengths, LLaDA
// (unshifted) and Dream (shifted) layouts; and the same for the KV caches (prefix, dual: the
// reference runs its own eager transformer for the cached window, tools/localleap/reference_cache.py).
import { beforeAll, describe, expect, test } from "@jest/globals";
import type { Addon, AddonCacheMode, AddonModel, AddonStrategy } from "../../lib/bindings/AddonTypes";
import { getAddon } from "../../lib/bindings/getAddon";
import { DREAM_FIXTURE, LLADA_FIXTURE } from "../support/fixtures";
import { type ReferenceCase, runReferenceDecoder } from "../support/referenceDecoder";

const STRATEGIES: AddonStrategy[] = ["low-confidence", "random", "threshold", "localleap"];
const PROMPTS = [[72, 101, 108, 108, 111, 44, 32, 119], [50, 43, 50, 61], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]];

let addon: Addon;
beforeAll(async () => {
    addon = (await getAddon({ device: "cpu" })).addon;
});

async function openModel(path: string): Promise<AddonModel> {
    const loaded = await addon.loadModel({ path, device: "cpu", threads: 1 });
    const m = JSON.parse(loaded.metadataJson);
    await loaded.model.configure({ vocabSize: m.vocabSize, maskId: m.maskId, eosId: m.eosId, endIds: m.endIds, padId: m.padId, logitsShifted: m.logitsShifted, maxLength: m.maxLength, kvCache: m.kvCache });
    return loaded.model;
}

function casesFor(model: string, cache: AddonCacheMode): ReferenceCase[] {
    const cases: ReferenceCase[] = [];
    for (const strategy of STRATEGIES) {
        for (const blockLength of [8, 16]) {
            for (const temperature of [0, 0.9]) {
                const genLength = 48;
                cases.push({
                    model, prompts: PROMPTS, genLength, blockLength, strategy,
                    steps: strategy === "low-confidence" || strategy === "random" ? genLength / 2 : genLength,
                    threshold: 0.8, anchorThreshold: 0.85, relaxedThreshold: 0.6, radius: 3, temperature,
                    seeds: [3, 5, 7], stopAtEos: blockLength === 8, cache,
                });
                // A single row (no padding) too, when there is a cache: its steps take the unpadded methods.
                if (cache !== "none" && temperature === 0) {
                    cases.push({ ...cases[cases.length - 1]!, prompts: [PROMPTS[1]!], seeds: [9] });
                }
            }
        }
    }
    return cases;
}

const MODELS = [["llada", LLADA_FIXTURE], ["dream", DREAM_FIXTURE]] as const;
const RUNS = MODELS.flatMap(([name, file]) => (["none", "prefix", "dual"] as const).map((cache) => [name, cache, file] as const));

describe.each(RUNS)("%s fixture, cache %s", (_name, cache, modelPath) => {
    test("engine decode equals the Python reference decoder token for token", async () => {
        const cases = casesFor(modelPath, cache);
        const expected = runReferenceDecoder(cases);
        const model = await openModel(modelPath);
        let multiTokenSteps = 0;
        let cachedSteps = 0;
        try {
            for (let i = 0; i < cases.length; i++) {
                const c = cases[i]!;
                const got = await model.generate({
                    ...c, prompts: c.prompts.map((p) => Int32Array.from(p)), cudaGraph: false,
                });
                const want = expected[i]!;
                const label = `${c.strategy} Lb=${c.blockLength} T=${c.temperature} stopAtEos=${c.stopAtEos} rows=${c.prompts.length}`;
                // The reference steps a batch's rows together; the scheduler moves a row without a
                // cache on to its next block at once, so the call takes part in fewer forwards
                // (never more) while every row's tokens and steps stay the same. A cached call
                // is a lockstep group: the same forwards as the reference.
                if (cache === "none" && c.prompts.length > 1) {
                    expect({ label, batchSteps: got.batchSteps <= want.batchSteps }).toEqual({ label, batchSteps: true });
                } else {
                    expect({ label, batchSteps: got.batchSteps }).toEqual({ label, batchSteps: want.batchSteps });
                }
                if (cache !== "none") cachedSteps += got.cachedSteps;
                got.rows.forEach((row, b) => {
                    expect({ label, b, tokens: Array.from(row.tokens) }).toEqual({ label, b, tokens: want.rows[b]!.tokens });
                    expect({ label, b, steps: row.steps, perBlock: Array.from(row.stepsPerBlock) })
                        .toEqual({ label, b, steps: want.rows[b]!.steps, perBlock: want.rows[b]!.stepsPerBlock });
                    if (row.steps < c.genLength && (c.strategy === "threshold" || c.strategy === "localleap")) multiTokenSteps++;
                });
            }
        } finally {
            await model.dispose();
        }
        // The fixture must make threshold/localleap commit several tokens per step sometimes,
        // or the comparison would not exercise the parallel rules.
        expect(multiTokenSteps).toBeGreaterThan(0);
        // With a cache, most steps must really be cached steps.
        if (cache !== "none") expect(cachedSteps).toBeGreaterThan(0);
    }, 600_000);
});
