// AdaBlock's adaptive block length on the GPU (docs/decoding.md "Adaptive blocks"): the CUDA
// kernel decides each block's length at its first step (rule::adaptiveBlockLength, reported in
// StepState::blockLengthOut) and must agree with the CPU rule bit for bit, so the whole float32
// decode is the same token for token, step for step and block for block: every strategy, greedy
// and sampled, a padded batch whose rows get different blocks, CUDA graphs on and off (the graph
// takes the block length as data: one stride for every step of an adaptive row), and single-row
// prefix / dual cached calls. The delimiter ids are tokens the random-weight fixture predicts, so
// delimiters do end blocks (checked).
import assert from "node:assert/strict";
import { test } from "node:test";
import type { AddonCacheMode, AddonGenerateResult, AddonModel, AddonStrategy } from "../../lib/bindings/AddonTypes";
import { getAddon } from "../../lib/bindings/getAddon";

const MODELS = [["test/fixtures/generated/llada.pt", [36, 210, 223, 66]], ["test/fixtures/generated/dream.pt", [108, 259, 48]]] as const;
const STRATEGIES: AddonStrategy[] = ["low-confidence", "random", "threshold", "localleap"];
const PROMPTS = [[72, 101, 108, 108, 111, 44, 32, 119], [50, 43, 50, 61], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]];
const GEN = 44;
const BLOCK = 16;

async function open(path: string, device: "cpu" | "cuda", delimiterIds: readonly number[]): Promise<AddonModel> {
    const { addon } = await getAddon({ device });
    const loaded = await addon.loadModel({ path, device, threads: 0 });
    const m = JSON.parse(loaded.metadataJson);
    await loaded.model.configure({
        vocabSize: m.vocabSize, maskId: m.maskId, eosId: m.eosId, endIds: m.endIds, padId: m.padId,
        logitsShifted: m.logitsShifted, maxLength: m.maxLength, kvCache: m.kvCache, delimiterIds: [...delimiterIds],
    });
    return loaded.model;
}

const rows = (r: AddonGenerateResult) =>
    r.rows.map((row) => ({ tokens: Array.from(row.tokens), steps: row.steps, stepsPerBlock: Array.from(row.stepsPerBlock), blockLengths: Array.from(row.blockLengths) }));

for (const [modelPath, delimiterIds] of MODELS) {
    test(`${modelPath}: adaptive blocks on CUDA equal the CPU decode (float32), graphs on and off`, async () => {
        const cpu = await open(modelPath, "cpu", delimiterIds);
        const gpu = await open(modelPath, "cuda", delimiterIds);
        let compared = 0, delimiterBlocks = 0, graphed = 0;
        try {
            const cases: { strategy: AddonStrategy; temperature: number; window: number; delimiterThreshold: number; stopAtEos: boolean; cache: AddonCacheMode; prompts: number[][] }[] = [];
            for (const strategy of STRATEGIES) {
                for (const [delimiterThreshold, temperature, window] of [[0, 0, 12], [0.6, 0.7, 11], [0.6, 0, 20]] as const) {
                    cases.push({ strategy, temperature, window, delimiterThreshold, stopAtEos: window === 11, cache: "none", prompts: PROMPTS });
                    if (strategy === "threshold" || strategy === "localleap") {
                        for (const cache of ["prefix", "dual"] as const) {
                            cases.push({ strategy, temperature, window, delimiterThreshold, stopAtEos: false, cache, prompts: [PROMPTS[0]!] });
                        }
                    }
                }
            }
            for (const c of cases) {
                const request = {
                    prompts: c.prompts.map((p) => Int32Array.from(p)), seeds: c.prompts.map((_, i) => 3 + i), genLength: GEN, blockLength: BLOCK,
                    strategy: c.strategy, steps: 22, threshold: 0.8, anchorThreshold: 0.85, relaxedThreshold: 0.6, radius: 3,
                    temperature: c.temperature, stopAtEos: c.stopAtEos, cache: c.cache,
                    adaptiveBlock: { window: c.window, delimiterThreshold: c.delimiterThreshold },
                };
                const where = `${c.strategy} T=${c.temperature} window=${c.window} thr=${c.delimiterThreshold} cache=${c.cache} rows=${c.prompts.length}`;
                const want = rows(await cpu.generate({ ...request, cudaGraph: false }));
                const eager = await gpu.generate({ ...request, cudaGraph: false });
                assert.deepEqual(rows(eager), want, `eager: ${where}`);
                // Twice with graphs: the first run warms each shape up, the second replays the captured graphs.
                for (let round = 0; round < 2; round++) {
                    const withGraphs = await gpu.generate({ ...request, cudaGraph: true });
                    assert.deepEqual(rows(withGraphs), want, `graphs, round ${round}: ${where}`);
                    if (round === 1 && withGraphs.cudaGraph) graphed++;
                }
                for (const row of want) {
                    let start = 0;
                    for (const len of row.blockLengths) {
                        if (len < BLOCK && start + len < GEN) delimiterBlocks++;
                        start += len;
                    }
                }
                compared++;
            }
        } finally {
            await cpu.dispose();
            await gpu.dispose();
        }
        console.log(`adaptive blocks: ${compared} CPU/GPU decodes identical, ${delimiterBlocks} blocks ended at a delimiter, ${graphed} replayed graphs`);
        assert.ok(delimiterBlocks > 0, "no block ended at a delimiter: the comparison does not exercise the rule");
        assert.ok(graphed > 0, "no adaptive decode replayed a CUDA graph");
    });
}
