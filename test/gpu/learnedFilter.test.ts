// Strategy "learned" on the GPU (docs/decoding.md "Learned filter"): the fused kernel's filter
// (native/kernels/learned_filter.h, one thread per hidden unit and per position, weights uploaded
// once to device memory) against the CPU rule bit for bit, alone and in mixed rows; and the whole
// decode on CUDA (eager and as CUDA graphs, with and without the dual cache) against the CPU decode
// of the same float32 archive with a random filter added by tools/add_filter.py.
// NOT YET RUN: written without a GPU; the next session with one runs it (npm run test:gpu).
import assert from "node:assert/strict";
import { test } from "node:test";
import type { AddonDType } from "../../lib/bindings/AddonTypes";
import { getAddon } from "../../lib/bindings/getAddon";
import { loadModel } from "../../lib/loadModel";
import { compareRuleResults } from "../support/compareRuleResults";
import { LLADA_FIXTURE } from "../support/fixtures";
import { archiveWithFilter, randomFilter } from "../support/learnedFilter";
import { Prng } from "../support/prng";
import { randomRuleCase } from "../support/ruleCases";

const MODEL = process.env.LOCALLEAP_TEST_MODEL ?? LLADA_FIXTURE;
const DTYPES: AddonDType[] = ["float32", "bfloat16", "float16"];
const SHAPES: [batch: number, blockLength: number, vocab: number, filterLength: number, hidden: number][] = [
    [1, 8, 7, 8, 8], [2, 16, 301, 16, 32], [3, 13, 1000, 16, 5], [4, 32, 8193, 32, 32], [1, 32, 50257, 64, 256],
    [16, 8, 257, 8, 1], [2, 64, 126464, 64, 48],
];

test("fused kernel's learned filter equals the CPU rule bit for bit", async () => {
    const { addon } = await getAddon({ device: "cuda" });
    const rng = new Prng(25091880);
    let cases = 0, beyondTop1 = 0;
    for (const dtype of DTYPES) {
        for (const temperature of [0, 0.8]) {
            for (const [batch, blockLength, vocabSize, filterLength, hidden] of SHAPES) {
                for (const acceptThreshold of [0.96, 0.5, 0, 1]) {
                    const base = randomRuleCase(rng, { batch, blockLength, vocabSize, dtype, strategy: "learned", temperature });
                    const ruleCase = { ...base, acceptThreshold, learnedFilter: randomFilter(filterLength, hidden, () => rng.next()) };
                    const cpu = addon.applyRule(ruleCase, "cpu");
                    const gpu = addon.applyRule(ruleCase, "cuda");
                    const where = `${dtype} T=${temperature} t=${acceptThreshold} [${batch},${blockLength},${vocabSize}] filter ${filterLength}x${hidden}`;
                    assert.equal(compareRuleResults(cpu, gpu), "", where);
                    for (let b = 0; b < batch; b++) {
                        if (cpu.commit.subarray(b * blockLength, (b + 1) * blockLength).reduce((s, x) => s + x, 0) > 1) beyondTop1++;
                    }
                    cases++;
                }
            }
        }
    }
    console.log(`learned kernel exactness: ${cases} cases identical, ${beyondTop1} rows committed beyond the top-1`);
    assert.ok(beyondTop1 > cases / 4, "the filter must accept positions beyond the top-1, or the comparison proves little");
});

test("fused kernel equals the CPU rule on mixed rows with learned rows", async () => {
    const { addon } = await getAddon({ device: "cuda" });
    const rng = new Prng(15);
    const rowKinds = [
        { strategy: "learned", acceptThreshold: 0.9, temperature: 0 }, { strategy: "localleap", temperature: 0 },
        { strategy: "learned", acceptThreshold: 0.5, temperature: 0.7 }, { strategy: "threshold", threshold: 0.5, temperature: 0 },
        { strategy: "low-confidence", topK: 3, temperature: 0 },
    ] as const;
    for (const dtype of DTYPES) {
        for (const [batch, blockLength, vocabSize] of [[5, 16, 8193], [3, 32, 50257]] as const) {
            const base = randomRuleCase(rng, { batch, blockLength, vocabSize, dtype, strategy: "localleap", temperature: 0 });
            const mixed = {
                ...base, learnedFilter: randomFilter(32, 32, () => rng.next()),
                rows: Array.from({ length: batch }, (_, b) => ({ ...rowKinds[b % rowKinds.length] })),
            };
            assert.equal(compareRuleResults(addon.applyRule(mixed, "cpu"), addon.applyRule(mixed, "cuda")), "", `${dtype} mixed [${batch},${blockLength},${vocabSize}]`);
        }
    }
});

test("GPU decode with strategy learned equals the CPU decode (eager, graphs, dual cache)", async () => {
    const archive = archiveWithFilter(MODEL, null, "gpu-filtered"); // a random filter of block length 16
    const cpu = await loadModel({ modelPath: archive, device: "cpu" });
    const gpu = await loadModel({ modelPath: archive, device: "cuda" });
    try {
        assert.ok(gpu.info.learnedFilter !== null);
        let compared = 0, parallel = 0;
        for (const blockLength of [8, 16]) {
            for (const temperature of [0, 0.7]) {
                for (const acceptThreshold of [0.9, 0.5]) {
                    for (const cache of ["none", "dual"] as const) {
                        const options = { strategy: "learned", genLength: 64, blockLength, acceptThreshold, temperature, seed: 11, cache, raw: true } as const;
                        const a = await cpu.generate("The sum of 12 and 30 is", options);
                        for (const cudaGraph of [false, true]) {
                            const b = await gpu.generate("The sum of 12 and 30 is", { ...options, cudaGraph });
                            const where = `Lb=${blockLength} T=${temperature} t=${acceptThreshold} cache=${cache} graph=${cudaGraph}`;
                            assert.deepEqual(b.tokens, a.tokens, `tokens differ: ${where}`);
                            assert.deepEqual(b.stepsPerBlock, a.stepsPerBlock, `steps per block differ: ${where}`);
                            if (cudaGraph) assert.equal(b.cudaGraph, true, `graph not used: ${b.cudaGraphFallbackReason}`);
                            compared++;
                        }
                        if (a.steps < 64) parallel++;
                    }
                }
            }
        }
        console.log(`learned decode match: ${compared} CPU/GPU generations identical, ${parallel} with parallel steps`);
        assert.ok(parallel > 0);
    } finally {
        await cpu.dispose();
        await gpu.dispose();
    }
});
