// The KV cache on the GPU: cached decodes (prefix, dual) equal the CPU ones on the float32
// fixtures token for token and step for step, CUDA graphs equal eager steps and are used for both
// kinds of step, and a padded batch decodes each row as if alone.
import assert from "node:assert/strict";
import { test } from "node:test";
import { loadModel } from "../../lib/loadModel";
import type { GenerateOptions } from "../../lib/options";
import type { CacheMode } from "../../lib/types";
import { STRATEGIES } from "../support/ruleCases";

const MODELS = [process.env.LOCALLEAP_TEST_MODEL ?? "test/fixtures/generated/llada.pt", "test/fixtures/generated/dream.pt"];
const PROMPTS = ["The sum of 12 and 30 is", "def add(a, b):"];
const CACHES: CacheMode[] = ["prefix", "dual"];

function optionsFor(strategy: string, blockLength: number, cache: CacheMode, extra: Record<string, unknown> = {}): GenerateOptions {
    const steps = strategy === "low-confidence" || strategy === "random" ? { steps: 64 / 2 } : {};
    return { genLength: 64, blockLength, strategy, raw: true, cache, ...steps, ...extra } as GenerateOptions;
}

for (const modelPath of MODELS) {
    test(`GPU cached decode equals CPU cached decode (${modelPath})`, async () => {
        const cpu = await loadModel({ modelPath, device: "cpu" });
        const gpu = await loadModel({ modelPath, device: "cuda" });
        assert.notEqual(gpu.info.kvCache, null, "the fixture must be a format-v2 archive");
        try {
            let compared = 0;
            let cachedSteps = 0;
            for (const cache of CACHES) {
                for (const strategy of STRATEGIES) {
                    for (const blockLength of [8, 32]) {
                        for (const temperature of [0, 0.7]) {
                            for (const prompt of PROMPTS) {
                                const options = optionsFor(strategy, blockLength, cache, { temperature, seed: 11 });
                                const a = await cpu.generate(prompt, options);
                                const b = await gpu.generate(prompt, options);
                                const where = `${cache} ${strategy} Lb=${blockLength} T=${temperature} "${prompt}"`;
                                assert.deepEqual(b.tokens, a.tokens, `tokens differ: ${where}`);
                                assert.equal(b.steps, a.steps, `steps differ: ${where}`);
                                assert.deepEqual(b.stepsPerBlock, a.stepsPerBlock, `steps per block differ: ${where}`);
                                assert.equal(b.timings.cachedSteps, a.timings.cachedSteps, where);
                                cachedSteps += b.timings.cachedSteps;
                                compared++;
                            }
                        }
                    }
                }
            }
            assert.ok(cachedSteps > 0, "no cached step ran");
            console.log(`kv cache match (${modelPath}): ${compared} CPU/GPU cached generations identical, ${cachedSteps} cached steps`);
        } finally {
            await cpu.dispose();
            await gpu.dispose();
        }
    });
}

test("cached CUDA graph replay equals eager steps, and graphs are used", async () => {
    const gpu = await loadModel({ modelPath: MODELS[0] as string, device: "cuda" });
    try {
        for (const cache of CACHES) {
            for (const strategy of STRATEGIES) {
                const options = optionsFor(strategy, 16, cache);
                const eager = await gpu.generate(PROMPTS[0] as string, { ...options, cudaGraph: false });
                const graphed = await gpu.generate(PROMPTS[0] as string, { ...options, cudaGraph: true });
                const again = await gpu.generate(PROMPTS[0] as string, { ...options, cudaGraph: true });
                assert.deepEqual(graphed.tokens, eager.tokens, `${cache} ${strategy}`);
                assert.deepEqual(again.tokens, eager.tokens, `${cache} ${strategy} (graphs replayed from the start)`);
                assert.equal(graphed.steps, eager.steps, `${cache} ${strategy}`);
                assert.equal(graphed.cudaGraph, true, `graph not used: ${graphed.cudaGraphFallbackReason}`);
                assert.ok(graphed.timings.cachedSteps > 0, `${cache} ${strategy}: no cached step`);
            }
        }
    } finally {
        await gpu.dispose();
    }
});

test("a padded batch with a cache decodes each row as if alone (GPU)", async () => {
    const gpu = await loadModel({ modelPath: MODELS[1] as string, device: "cuda" });
    const prompts = [[5, 6, 7, 8, 9, 10, 11], [20, 21], [30, 31, 32, 33]];
    try {
        for (const cache of CACHES) {
            for (const strategy of STRATEGIES) {
                const options = optionsFor(strategy, 16, cache, { temperature: 0.6, seed: 3, stopAtEos: true });
                const batch = await gpu.generate(prompts, options);
                for (let i = 0; i < prompts.length; i++) {
                    const alone = await gpu.generate(prompts[i] as number[], options);
                    assert.deepEqual(batch[i]!.tokens, alone.tokens, `${cache} ${strategy} row ${i}`);
                    assert.equal(batch[i]!.steps, alone.steps, `${cache} ${strategy} row ${i} steps`);
                }
            }
        }
    } finally {
        await gpu.dispose();
    }
});
