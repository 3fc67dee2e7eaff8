// device "cuda:N" (issue 17): every GPU the process sees takes a model whose decode equals GPU 0's
// and the CPU's, model.info.gpu names it, an index past the
// visible GPUs is CUDA_UNAVAILABLE naming how many there are, and a pool spans the GPUs.
import assert from "node:assert/strict";
import { test } from "node:test";
import { getAddon } from "../../lib/bindings/getAddon";
import { loadModel } from "../../lib/loadModel";
import { loadModelPool } from "../../lib/pool/loadModelPool";
import type { CudaDeviceIndex } from "../../lib/types";

const MODEL = process.env.LOCALLEAP_TEST_MODEL ?? "test/fixtures/generated/llada.pt";
const OPTIONS = { genLength: 64, blockLength: 16, strategy: "localleap", raw: true, temperature: 0.7, seed: 3 } as const;
const PROMPT = "The sum of 12 and 30 is";

async function gpuCount(): Promise<number> {
    return (await getAddon({ device: "cuda" })).buildInfo.cudaDeviceCount;
}

test("each visible GPU by index decodes as the CPU does, and info.gpu names it", async () => {
    const count = await gpuCount();
    assert.ok(count >= 1);
    const cpu = await loadModel({ modelPath: MODEL, device: "cpu" });
    const want = await cpu.generate(PROMPT, OPTIONS);
    await cpu.dispose();
    for (let index = 0; index < count; index++) {
        const device = `cuda:${index}` as CudaDeviceIndex;
        const model = await loadModel({ modelPath: MODEL, device });
        try {
            assert.equal(model.info.device, "cuda");
            assert.equal(model.info.gpu?.index, index, device);
            assert.ok((model.info.gpu?.name ?? "").length > 0, `${device}: no GPU name`);
            const got = await model.generate(PROMPT, OPTIONS);
            assert.deepEqual(got.tokens, want.tokens, `${device} tokens`);
            assert.equal(got.steps, want.steps, `${device} steps`);
        } finally {
            await model.dispose();
        }
    }
    const plain = await loadModel({ modelPath: MODEL, device: "cuda" });
    assert.equal(plain.info.gpu?.index, 0, '"cuda" is GPU 0');
    await plain.dispose();
});

test("an index past the visible GPUs is CUDA_UNAVAILABLE and says how many there are", async () => {
    const count = await gpuCount();
    await assert.rejects(loadModel({ modelPath: MODEL, device: `cuda:${count}` as CudaDeviceIndex }), (error: Error & { code?: string }) => {
        assert.equal(error.code, "CUDA_UNAVAILABLE");
        assert.match(error.message, new RegExp(`sees ${count} CUDA device`));
        return true;
    });
});

test("a pool with one replica per visible GPU puts each on its GPU", async () => {
    const count = await gpuCount();
    const devices = Array.from({ length: count }, (_, i) => `cuda:${i}` as CudaDeviceIndex);
    const pool = await loadModelPool({ modelPath: MODEL, devices });
    try {
        assert.deepEqual(pool.info.map((info) => info.gpu?.index), devices.map((_, i) => i));
        const results = await Promise.all(Array.from({ length: 2 * count }, () => pool.generate(PROMPT, OPTIONS)));
        for (const r of results) assert.deepEqual(r.tokens, results[0]!.tokens);
    } finally {
        await pool.dispose();
    }
});
