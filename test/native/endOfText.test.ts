// End-of-text prediction (endOfText, docs/decoding.md "Ending early"): the engine against the plain
// Python reference decoder on the random-weight fixtures (every strategy, greedy and sampled, a
// batch, no cache and dual cache), and on the reference model the invariant that makes it safe:
// the text is the same as with stopAtEos, in no more steps (fewer when the end token lands mid-block).
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import type { Addon, AddonCacheMode, AddonModel, AddonStrategy } from "../../lib/bindings/AddonTypes";
import { getAddon } from "../../lib/bindings/getAddon";
import { loadModel } from "../../lib/loadModel";
import type { Model } from "../../lib/model";
import { DREAM_FIXTURE, LLADA_FIXTURE } from "../support/fixtures";
import { type ReferenceCase, runReferenceDecoder } from "../support/referenceDecoder";

const STRATEGIES: AddonStrategy[] = ["low-confidence", "random", "threshold", "localleap"];
const PROMPTS = [[72, 101, 108, 108, 111, 44, 32, 119], [50, 43, 50, 61], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]];

let addon: Addon;
beforeAll(async () => {
    addon = (await getAddon({ device: "cpu" })).addon;
});

async function openModel(path: string): Promise<{ model: AddonModel; endIds: number[]; eosId: number }> {
    const loaded = await addon.loadModel({ path, device: "cpu", threads: 1 });
    const m = JSON.parse(loaded.metadataJson);
    await loaded.model.configure({ vocabSize: m.vocabSize, maskId: m.maskId, eosId: m.eosId, endIds: m.endIds, padId: m.padId, logitsShifted: m.logitsShifted, maxLength: m.maxLength, kvCache: m.kvCache });
    return { model: loaded.model, endIds: m.endIds, eosId: m.eosId };
}

function casesFor(model: string, cache: AddonCacheMode): ReferenceCase[] {
    const cases: ReferenceCase[] = [];
    for (const strategy of STRATEGIES) {
        for (const temperature of [0, 0.9]) {
            for (const seed of [3, 11]) {
                const genLength = 48;
                cases.push({
                    model, prompts: PROMPTS, genLength, blockLength: 16, strategy,
                    steps: strategy === "low-confidence" || strategy === "random" ? genLength / 2 : genLength,
                    threshold: 0.8, anchorThreshold: 0.85, relaxedThreshold: 0.6, radius: 3, temperature,
                    seeds: [seed, seed + 2, seed + 4], stopAtEos: false, endOfText: true, cache,
                });
            }
        }
    }
    return cases;
}

const MODELS = [["llada", LLADA_FIXTURE], ["dream", DREAM_FIXTURE]] as const;
const RUNS = MODELS.flatMap(([name, file]) => (["none", "dual"] as const).map((cache) => [name, cache, file] as const));

describe.each(RUNS)("endOfText on the %s fixture, cache %s", (_name, cache, modelPath) => {
    test("engine decode equals the Python reference decoder token for token and step for step", async () => {
        const cases = casesFor(modelPath, cache);
        const expected = runReferenceDecoder(cases);
        const { model, endIds, eosId } = await openModel(modelPath);
        let stoppedMidBlock = 0;
        try {
            for (let i = 0; i < cases.length; i++) {
                const c = cases[i]!;
                const got = await model.generate({ ...c, prompts: c.prompts.map((p) => Int32Array.from(p)), cudaGraph: false });
                const want = expected[i]!;
                const label = `${c.strategy} T=${c.temperature} seed=${c.seeds[0]}`;
                got.rows.forEach((row, b) => {
                    const tokens = Array.from(row.tokens);
                    expect({ label, b, tokens }).toEqual({ label, b, tokens: want.rows[b]!.tokens });
                    expect({ label, b, steps: row.steps, perBlock: Array.from(row.stepsPerBlock) })
                        .toEqual({ label, b, steps: want.rows[b]!.steps, perBlock: want.rows[b]!.stepsPerBlock });
                    // Stopped mid-block: an end token, then EOS filling positions of its own block
                    // that were never decoded (fewer steps in that block than it has positions).
                    const end = tokens.findIndex((t) => endIds.includes(t));
                    const block = Math.floor(end / c.blockLength);
                    if (end >= 0 && tokens.slice(end + 1).every((t) => t === eosId) &&
                        (end + 1) % c.blockLength !== 0 && row.stepsPerBlock[block]! < c.blockLength && row.stepsPerBlock.slice(block + 1).every((s) => s === 0)) {
                        stoppedMidBlock++;
                    }
                });
            }
        } finally {
            await model.dispose();
        }
        // The fixtures must end some rows mid-block, or the comparison would not exercise EoTP.
        expect(stoppedMidBlock).toBeGreaterThan(0);
    }, 600_000);
});

describe("endOfText on the reference model", () => {
    let model: Model;
    beforeAll(async () => {
        model = await loadModel({ device: "cpu", threads: 1 });
    }, 120_000);
    afterAll(async () => {
        await model?.dispose();
    });

    // (On this model the EOS padding after an answer is among the first positions of its block to
    // commit, so EoTP rarely saves steps over stopAtEos here: docs/BENCHMARKS.md measures it.)
    test("the same text as stopAtEos in no more steps", async () => {
        const questions = ["What is 7 + 5?", "Tom has 3 apples and buys 4 more. How many apples does he have?", "What is 12 times 3?"];
        for (const question of questions) {
            for (const strategy of ["threshold", "localleap", "low-confidence"] as const) {
                const options = { genLength: 128, blockLength: 32, strategy, cache: "none" as const };
                const block = await model.generate(question, { ...options, stopAtEos: true });
                const eot = await model.generate(question, { ...options, endOfText: true });
                const label = `${strategy}: ${question}`;
                expect({ label, text: eot.text, finishReason: eot.finishReason }).toEqual({ label, text: block.text, finishReason: block.finishReason });
                expect({ label, fewer: eot.steps <= block.steps }).toEqual({ label, fewer: true });
            }
        }
    }, 300_000);
});

// endOfText with adaptive blocks: the row stops inside a block whose length the rule decided.
// The delimiter ids are tokens the fixtures predict (as in adaptiveBlock.test.ts).
const ADAPTIVE = [["llada", LLADA_FIXTURE, [36, 210, 223, 66]], ["dream", DREAM_FIXTURE, [108, 259, 48]]] as const;
describe.each(ADAPTIVE)("endOfText with adaptive blocks on the %s fixture", (_name, modelPath, delimiterIds) => {
    test("engine decode equals the Python reference decoder, blocks included", async () => {
        const cases: ReferenceCase[] = [];
        for (const strategy of ["threshold", "localleap", "low-confidence"] as AddonStrategy[]) {
            for (const temperature of [0, 0.9]) {
                cases.push({
                    model: modelPath, prompts: PROMPTS, genLength: 44, blockLength: 16, strategy, steps: 22,
                    threshold: 0.8, anchorThreshold: 0.85, relaxedThreshold: 0.6, radius: 3, temperature,
                    seeds: [3, 5, 7], stopAtEos: false, endOfText: true, cache: "none",
                    adaptiveBlock: { window: 12, delimiterThreshold: 0, delimiterIds: [...delimiterIds] },
                } as unknown as ReferenceCase);
            }
        }
        const expected = runReferenceDecoder(cases);
        const loaded = await addon.loadModel({ path: modelPath, device: "cpu", threads: 1 });
        const m = JSON.parse(loaded.metadataJson);
        await loaded.model.configure({ vocabSize: m.vocabSize, maskId: m.maskId, eosId: m.eosId, endIds: m.endIds, padId: m.padId, logitsShifted: m.logitsShifted, maxLength: m.maxLength, kvCache: m.kvCache, delimiterIds: [...delimiterIds] });
        let ended = 0;
        try {
            for (let i = 0; i < cases.length; i++) {
                const c = cases[i]!;
                const got = await loaded.model.generate({ ...c, prompts: c.prompts.map((p) => Int32Array.from(p)), cudaGraph: false, adaptiveBlock: { window: 12, delimiterThreshold: 0 } });
                got.rows.forEach((row, b) => {
                    const want = expected[i]!.rows[b]! as typeof expected[number]["rows"][number] & { blockLengths: number[] };
                    const label = `${c.strategy} T=${c.temperature} row ${b}`;
                    expect({ label, tokens: Array.from(row.tokens), steps: row.steps, perBlock: Array.from(row.stepsPerBlock), lengths: Array.from(row.blockLengths) })
                        .toEqual({ label, tokens: want.tokens, steps: want.steps, perBlock: want.stepsPerBlock, lengths: want.blockLengths });
                    if (want.finishReason === "eos") ended++;
                });
            }
        } finally {
            await loaded.model.dispose();
        }
        expect(ended).toBeGreaterThan(0);
    }, 600_000);
});
