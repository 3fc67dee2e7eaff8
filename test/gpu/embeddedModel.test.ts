// What `npm install localleap` gives a GPU user: the embedded model (an archive written by torch
// 1.13 in the package; a same-code export here) loads with no arguments on the CUDA binary and
// answers, and an archive saved by torch 1.13 runs on libtorch 2.11 with CUDA.
import assert from "node:assert/strict";
import { test } from "node:test";
import { loadModel } from "../../lib/loadModel";

const PROBLEM = "Mia has 48 stickers. She buys 3 packs with 12 stickers in each pack. Then she gives 20 stickers to her brother. How many stickers does Mia have now?";
const TORCH113_ARCHIVE = "test/fixtures/torch1.13/llada.pt";

test("loadModel() with no arguments: the embedded model on the GPU answers a word problem", async () => {
    const gpu = await loadModel();
    const cpu = await loadModel({ device: "cpu" });
    try {
        assert.equal(gpu.info.device, "cuda");
        const a = await gpu.generate(PROBLEM);
        const b = await cpu.generate(PROBLEM);
        console.log(`embedded model on ${gpu.info.build.cudaDeviceName}: ${JSON.stringify(a.text)} (${a.steps} steps, ${a.finishReason}); ` +
            `CPU ${a.text === b.text ? "gives the same text" : `gives ${JSON.stringify(b.text)}`}`);
        assert.equal(a.finishReason, "eos");
        assert.match(a.text, /answer is \d+/);
    } finally {
        await gpu.dispose();
        await cpu.dispose();
    }
});

test("an archive saved by torch 1.13 loads and generates on libtorch 2.x with CUDA", async () => {
    const model = await loadModel({ modelPath: TORCH113_ARCHIVE, device: "cuda" });
    try {
        assert.equal(model.info.device, "cuda");
        assert.match(model.info.build.torchVersion, /^2\./);
        assert.equal((model.info.metadata.exporter as { torch?: string }).torch?.startsWith("1.13"), true, JSON.stringify(model.info.metadata.exporter));
        const result = await model.generate("Hello", { genLength: 32, raw: true });
        assert.equal(result.stepsPerBlock.reduce((x, y) => x + y, 0), result.steps);
        assert.ok(result.steps >= 1);
    } finally {
        await model.dispose();
    }
});
