// APD on the GPU (strategy "apd", docs/decoding.md "APD"): both forwards run on CUDA and the accept
// rule (native/kernels/apd_accept.h) on the host over the logits copied back; on the float32
// fixtures the decode equals the CPU one token for token, step for step, with the same causal-LM
// forwards and accepted tokens per step, for each R, W and M, greedy and sampled, and a batch;
// then a batch of diverging rows (their forwards batched) against the CPU and each row alone.
import assert from "node:assert/strict";
import { test } from "node:test";
import { loadModel } from "../../lib/loadModel";
import type { GenerateOptions } from "../../lib/options";
import { CAUSAL_FIXTURE, DREAM_FIXTURE, LLADA_FIXTURE, ensureApdFixtures } from "../support/fixtures";

const PROMPTS = [[72, 101, 108, 108, 111, 44, 32, 119], [50, 43, 50, 61], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]];

for (const modelPath of [DREAM_FIXTURE, LLADA_FIXTURE]) {
    test(`GPU apd decode equals CPU apd decode (${modelPath})`, async () => {
        ensureApdFixtures();
        const cpu = await loadModel({ modelPath, device: "cpu", apd: { arModelPath: CAUSAL_FIXTURE } });
        const gpu = await loadModel({ modelPath, device: "cuda", apd: { arModelPath: CAUSAL_FIXTURE } });
        try {
            assert.deepEqual(gpu.info.apd, cpu.info.apd);
            let compared = 0, arForwards = 0;
            for (const mixtureWeight of [0, 0.5, 0.7, 1]) {
                for (const kvWindow of [null, 1, 4, 64]) {
                    for (const maxLookahead of [1, 3, 100]) {
                        for (const temperature of [0, 0.5]) {
                            const options = { strategy: "apd", genLength: 32, mixtureWeight, kvWindow, maxLookahead, temperature, seed: 11, stopAtEos: temperature > 0 } as GenerateOptions;
                            const a = await cpu.generate(PROMPTS, options);
                            const b = await gpu.generate(PROMPTS, options);
                            const where = `R=${mixtureWeight} W=${kvWindow} M=${maxLookahead} T=${temperature}`;
                            a.forEach((row, i) => {
                                const g = b[i]!;
                                assert.deepEqual(g.tokens, row.tokens, `tokens differ: ${where} row ${i}`);
                                assert.equal(g.steps, row.steps, `steps differ: ${where} row ${i}`);
                                assert.equal(g.arForwards, row.arForwards, `arForwards differ: ${where} row ${i}`);
                                assert.deepEqual(g.acceptedPerStep, row.acceptedPerStep, `acceptedPerStep differ: ${where} row ${i}`);
                                arForwards += g.arForwards ?? 0;
                                compared++;
                            });
                        }
                    }
                }
            }
            assert.ok(arForwards > 0, "the causal LM never ran");
            console.log(`apd match (${modelPath}): ${compared} CPU/GPU rows identical, ${arForwards} causal-LM forwards`);
        } finally {
            await cpu.dispose();
            await gpu.dispose();
        }
    });
}

// Batched rows (docs/decoding.md "Batched rows"): six prompts of different lengths whose cursors
// diverge share their forwards; on CUDA each row must still equal the CPU row (which equals the
// row decoded alone: test/native/apd.test.ts), and the GPU batch must equal each prompt decoded
// alone on the GPU (a failure of the second but not the first would be the padded shapes on CUDA).
const DIVERGING = [[7], [50, 43, 50], [1, 2, 3, 4, 5], [72, 101, 108, 108, 111, 44, 32, 119], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 11, 12], [30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46]];

for (const modelPath of [DREAM_FIXTURE, LLADA_FIXTURE]) {
    test(`GPU apd batch of diverging rows equals CPU and each row alone (${modelPath})`, async () => {
        ensureApdFixtures();
        const cpu = await loadModel({ modelPath, device: "cpu", apd: { arModelPath: CAUSAL_FIXTURE } });
        const gpu = await loadModel({ modelPath, device: "cuda", apd: { arModelPath: CAUSAL_FIXTURE } });
        try {
            let compared = 0;
            for (const mixtureWeight of [0.5, 0.9]) {
                for (const kvWindow of [null, 4]) {
                    for (const maxLookahead of [3, 100]) {
                        for (const temperature of [0, 0.5]) {
                            const options = { strategy: "apd", genLength: 24, mixtureWeight, kvWindow, maxLookahead, temperature, seed: 5 } as GenerateOptions;
                            const where = `R=${mixtureWeight} W=${kvWindow} M=${maxLookahead} T=${temperature}`;
                            const a = await cpu.generate(DIVERGING, options);
                            const b = await gpu.generate(DIVERGING, options);
                            for (const [i, prompt] of DIVERGING.entries()) {
                                const alone = (await gpu.generate([prompt], options))[0]!;
                                for (const [name, want] of [["CPU", a[i]!], ["GPU alone", alone]] as const) {
                                    assert.deepEqual(b[i]!.tokens, want.tokens, `tokens differ from ${name}: ${where} row ${i}`);
                                    assert.deepEqual(b[i]!.acceptedPerStep, want.acceptedPerStep, `acceptedPerStep differ from ${name}: ${where} row ${i}`);
                                    assert.equal(b[i]!.arForwards, want.arForwards, `arForwards differ from ${name}: ${where} row ${i}`);
                                }
                                compared++;
                            }
                        }
                    }
                }
            }
            console.log(`apd batched rows (${modelPath}): ${compared} GPU rows equal CPU and GPU-alone`);
        } finally {
            await cpu.dispose();
            await gpu.dispose();
        }
    });
}
