// The whole decode on the GPU against the CPU decode of the same float32 model, token for token
// and step for step; CUDA graphs against eager steps; a batch against each row alone.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { AddonStrategy } from "../../lib/bindings/AddonTypes";
import { getAddon } from "../../lib/bindings/getAddon";
import { loadModel } from "../../lib/loadModel";
import type { GenerateOptions } from "../../lib/options";
import { STRATEGIES } from "../support/ruleCases";

const MODEL = process.env.LOCALLEAP_TEST_MODEL ?? "test/fixtures/generated/llada.pt";
const PROMPTS = ["The sum of 12 and 30 is", "def add(a, b):", "Once upon a time"];

/** raw: plain-text prompts, so that the random-weight fixture fills the whole canvas. */
function optionsFor(strategy: AddonStrategy, blockLength: number, extra: Record<string, unknown> = {}): GenerateOptions {
    const steps = strategy === "low-confidence" || strategy === "random" ? { steps: 64 / 2 } : {};
    return { genLength: 64, blockLength, strategy, raw: true, ...steps, ...extra } as GenerateOptions;
}

test("GPU decode equals CPU decode for every strategy and two block lengths", async () => {
    const cpu = await loadModel({ modelPath: MODEL, device: "cpu" });
    const gpu = await loadModel({ modelPath: MODEL, device: "cuda" });
    assert.equal(gpu.info.device, "cuda");
    try {
        let compared = 0;
        for (const strategy of STRATEGIES) {
            for (const blockLength of [8, 32]) {
                for (const temperature of [0, 0.7]) {
                    for (const prompt of PROMPTS) {
                        const options = optionsFor(strategy, blockLength, { temperature, seed: 11 });
                        const a = await cpu.generate(prompt, options);
                        const b = await gpu.generate(prompt, options);
                        const where = `${strategy} Lb=${blockLength} T=${temperature} "${prompt}"`;
                        assert.deepEqual(b.tokens, a.tokens, `tokens differ: ${where}`);
                        assert.equal(b.steps, a.steps, `steps differ: ${where}`);
                        assert.deepEqual(b.stepsPerBlock, a.stepsPerBlock, `steps per block differ: ${where}`);
                        compared++;
                    }
                }
            }
        }
        console.log(`decode match: ${compared} CPU/GPU generations identical`);
    } finally {
        await cpu.dispose();
        await gpu.dispose();
    }
});

test("CUDA graph replay equals eager steps, and graphs are used", async () => {
    const gpu = await loadModel({ modelPath: MODEL, device: "cuda" });
    try {
        for (const strategy of STRATEGIES) {
            const options = optionsFor(strategy, 32, { stopAtEos: true });
            const eager = await gpu.generate(PROMPTS[0] as string, { ...options, cudaGraph: false });
            const graphed = await gpu.generate(PROMPTS[0] as string, { ...options, cudaGraph: true });
            assert.deepEqual(graphed.tokens, eager.tokens, strategy);
            assert.equal(graphed.steps, eager.steps, strategy);
            assert.equal(graphed.cudaGraph, true, `graph not used: ${graphed.cudaGraphFallbackReason}`);
            assert.equal(eager.cudaGraph, false);
        }
    } finally {
        await gpu.dispose();
    }
});

test("a batch of prompts of different lengths decodes each row as if alone (GPU)", async () => {
    const { addon } = await getAddon({ device: "cuda" });
    const loaded = await addon.loadModel({ path: MODEL, device: "cuda", threads: 0 });
    const meta = JSON.parse(loaded.metadataJson);
    await loaded.model.configure({ vocabSize: meta.vocabSize, maskId: meta.maskId, eosId: meta.eosId, endIds: meta.endIds, padId: meta.padId, logitsShifted: meta.logitsShifted, maxLength: meta.maxLength });
    const prompts = [Int32Array.from([5, 6, 7, 8, 9, 10, 11]), Int32Array.from([20, 21]), Int32Array.from([30, 31, 32, 33])];
    try {
        for (const strategy of STRATEGIES) {
            const request = { genLength: 64, blockLength: 16, strategy, steps: 32, threshold: 0.9, anchorThreshold: 0.9, relaxedThreshold: 0.75, radius: 4, temperature: 0.6, stopAtEos: true, cudaGraph: true };
            const batch = await loaded.model.generate({ ...request, prompts, seeds: [1, 2, 3] });
            for (let i = 0; i < prompts.length; i++) {
                const alone = await loaded.model.generate({ ...request, prompts: [prompts[i] as Int32Array], seeds: [i + 1] });
                assert.deepEqual(Array.from(batch.rows[i]!.tokens), Array.from(alone.rows[0]!.tokens), `${strategy} row ${i}`);
                assert.equal(batch.rows[i]!.steps, alone.rows[0]!.steps, `${strategy} row ${i} steps`);
            }
        }
    } finally {
        await loaded.model.dispose();
    }
});

test("endOfText on the GPU equals the CPU decode (no cache and dual cache, graphs on)", async () => {
    const cpu = await loadModel({ modelPath: MODEL, device: "cpu" });
    const gpu = await loadModel({ modelPath: MODEL, device: "cuda" });
    try {
        let compared = 0;
        for (const strategy of STRATEGIES) {
            for (const cache of ["none", "dual"] as const) {
                for (const temperature of [0, 0.7]) {
                    for (const prompt of PROMPTS) {
                        const options = optionsFor(strategy, 16, { temperature, seed: 5, endOfText: true, cache });
                        const a = await cpu.generate(prompt, options);
                        const b = await gpu.generate(prompt, options);
                        const where = `endOfText ${strategy} cache=${cache} T=${temperature} "${prompt}"`;
                        assert.deepEqual(b.tokens, a.tokens, `tokens differ: ${where}`);
                        assert.equal(b.steps, a.steps, `steps differ: ${where}`);
                        assert.deepEqual(b.stepsPerBlock, a.stepsPerBlock, `steps per block differ: ${where}`);
                        compared++;
                    }
                }
            }
        }
        console.log(`endOfText match: ${compared} CPU/GPU generations identical`);
    } finally {
        await cpu.dispose();
        await gpu.dispose();
    }
});
