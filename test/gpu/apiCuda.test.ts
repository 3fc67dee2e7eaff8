// The public API on a GPU: loadModel({ device: 'cuda' }) from the CUDA binary generates with
// every strategy, and 'auto' picks the GPU.
import assert from "node:assert/strict";
import { test } from "node:test";
import { loadModel } from "../../lib/loadModel";
import type { GenerateOptions } from "../../lib/options";
import { STRATEGIES } from "../support/ruleCases";

const MODEL = process.env.LOCALLEAP_TEST_MODEL ?? "test/fixtures/generated/llada.pt";

test("loadModel({ device: 'cuda' }) generates with every strategy", async () => {
    const model = await loadModel({ modelPath: MODEL, device: "cuda" });
    try {
        assert.equal(model.info.device, "cuda");
        assert.equal(model.info.build.variant, "cuda");
        console.log(`binary: ${model.info.build.binaryPath} (${model.info.build.variantName}) on ${model.info.build.cudaDeviceName}`);
        for (const strategy of STRATEGIES) {
            const steps = strategy === "low-confidence" || strategy === "random" ? 64 : undefined;
            const result = await model.generate("Hello", { genLength: 64, blockLength: 32, strategy, raw: true, ...(steps ? { steps } : {}) } as GenerateOptions);
            assert.ok(result.steps >= 2 && result.steps <= 64, `${strategy}: ${result.steps} steps`);
            assert.equal(result.stepsPerBlock.reduce((a, b) => a + b, 0), result.steps);
            if (strategy === "low-confidence") assert.equal(result.steps, 64);
        }
    } finally {
        await model.dispose();
    }
});

test("device 'auto' chooses the GPU when the CUDA binary sees one", async () => {
    const model = await loadModel({ modelPath: MODEL, device: "auto" });
    try {
        assert.equal(model.info.device, "cuda");
    } finally {
        await model.dispose();
    }
});
