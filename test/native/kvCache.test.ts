// The KV cache through the public API and the addon, on the CPU: what a format-v1 archive does,
// that a block's first step with a cache is the no-cache step, the step counts and timings, the
// cache's size and OUT_OF_MEMORY, streaming and abort with a cache. Token-for-token agreement with
// the Python reference is in referenceMatch.test.ts.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import type { Addon, AddonModel, AddonStepEvent } from "../../lib/bindings/AddonTypes";
import { getAddon } from "../../lib/bindings/getAddon";
import { AbortError, CacheUnsupportedError, loadModel, type Model } from "../../lib";
import { LLADA_FIXTURE, ROOT } from "../support/fixtures";

const V1_ARCHIVE = path.join(ROOT, "test", "fixtures", "torch1.13", "llada.pt");
const PROMPT = [72, 101, 108, 108, 111, 44, 32, 119];

let addon: Addon;
let llada: Model;
beforeAll(async () => {
    addon = (await getAddon({ device: "cpu" })).addon;
    llada = await loadModel({ modelPath: LLADA_FIXTURE, device: "cpu" });
});
afterAll(async () => {
    await llada?.dispose();
});

async function openAddonModel(modelPath: string, kvCache?: { layers: number; kvHeads: number; headDim: number }): Promise<AddonModel> {
    const loaded = await addon.loadModel({ path: modelPath, device: "cpu", threads: 1 });
    const m = JSON.parse(loaded.metadataJson);
    await loaded.model.configure({ vocabSize: m.vocabSize, maskId: m.maskId, eosId: m.eosId, endIds: m.endIds, padId: m.padId, logitsShifted: m.logitsShifted, maxLength: m.maxLength, ...(kvCache && { kvCache }) });
    return loaded.model;
}

const request = (cache: "none" | "prefix" | "dual", extra: Record<string, unknown> = {}) => ({
    prompts: [Int32Array.from(PROMPT)], genLength: 32, blockLength: 8, strategy: "threshold" as const, steps: 32, threshold: 0.7,
    anchorThreshold: 0.9, relaxedThreshold: 0.75, radius: 4, temperature: 0, seeds: [0], stopAtEos: false, cudaGraph: false, cache, ...extra,
});

describe("format-v1 archives", () => {
    test("load, report no cache, run with cache none, and refuse prefix/dual with CACHE_UNSUPPORTED", async () => {
        const model = await loadModel({ modelPath: V1_ARCHIVE, device: "cpu" });
        try {
            expect(model.info.metadata.formatVersion).toBe(1);
            expect(model.info.kvCache).toBeNull();
            expect(model.info.defaultCache).toBe("none");
            const result = await model.generate(PROMPT, { genLength: 16, blockLength: 8 });
            expect(result.cache).toBe("none");
            expect(result.timings.cachedSteps).toBe(0);
            for (const cache of ["prefix", "dual"] as const) {
                const error = await model.generate(PROMPT, { genLength: 16, cache }).catch((e: unknown) => e);
                expect(error).toBeInstanceOf(CacheUnsupportedError);
                expect(error).toMatchObject({ code: "CACHE_UNSUPPORTED", message: expect.stringContaining("format v1"), hint: expect.stringContaining("re-export") });
            }
        } finally {
            await model.dispose();
        }
    });

    test("the engine refuses a cache without the v2 sizes too", async () => {
        const model = await openAddonModel(V1_ARCHIVE);
        try {
            await expect(model.generate(request("dual"))).rejects.toMatchObject({ code: "CACHE_UNSUPPORTED", message: expect.stringContaining("Re-export") });
            await expect(model.generate(request("none"))).resolves.toMatchObject({ cachedSteps: 0 });
        } finally {
            await model.dispose();
        }
    });
});

describe("format-v2 archives", () => {
    test("model.info gives the cache's size per position and per row", () => {
        const kv = llada.info.kvCache;
        expect(kv).not.toBeNull();
        expect(llada.info.metadata.formatVersion).toBe(2);
        // The fixture: 2 layers x 2 (K, V) x 4 kv heads x head dim 16 x 4 bytes (float32).
        expect(kv).toEqual({ layers: 2, kvHeads: 4, headDim: 16, bytesPerPosition: 2 * 2 * 4 * 16 * 4, bytesPerRowAtMaxLength: 2 * 2 * 4 * 16 * 4 * 512 });
    });

    test.each(["prefix", "dual"] as const)("%s: every block's first step is a full step and commits what the no-cache step on that canvas commits", async (cache) => {
        const model = await openAddonModel(LLADA_FIXTURE, llada.info.metadata.kvCache);
        try {
            const events: AddonStepEvent[] = [];
            const cached = await model.generate({ ...request(cache), onStep: (e) => events.push(e) });
            expect(cached.fullSteps).toBe(4);
            expect(cached.cachedSteps).toBe(cached.batchSteps - 4);
            expect(cached.cachedSteps).toBeGreaterThan(0);
            const span = Array.from(cached.rows[0]!.tokens);
            for (let k = 0; k < 4; k++) {
                const first = events.find((e) => e.block === k)!;
                // The canvas at block k's first step: the prompt and blocks < k as the cached decode left them.
                const prompt = Int32Array.from([...PROMPT, ...span.slice(0, 8 * k)]);
                const plainEvents: AddonStepEvent[] = [];
                await model.generate({ ...request("none"), prompts: [prompt], genLength: 32 - 8 * k, onStep: (e) => plainEvents.push(e) });
                const plain = plainEvents[0]!.rows[0]!;
                expect({ k, positions: Array.from(plain.positions).map((p) => p + 8 * k), tokens: Array.from(plain.tokens) })
                    .toEqual({ k, positions: Array.from(first.rows[0]!.positions), tokens: Array.from(first.rows[0]!.tokens) });
            }
        } finally {
            await model.dispose();
        }
    });

    test("a cache larger than the machine's memory is OUT_OF_MEMORY naming its size, and the model still works", async () => {
        // Sizes as the metadata could claim them: 8192 layers (the model uses its own 2), so a
        // 512-row batch needs terabytes; the probe's 8-position cache still fits.
        const model = await openAddonModel(LLADA_FIXTURE, { layers: 8192, kvHeads: 4, headDim: 16 });
        try {
            const prompts = Array.from({ length: 512 }, () => Int32Array.from(PROMPT));
            const error = await model.generate(request("dual", { prompts, seeds: prompts.map(() => 0), genLength: 504 })).catch((e: unknown) => e);
            expect(error).toMatchObject({ code: "OUT_OF_MEMORY", message: expect.stringMatching(/KV cache needs \d+\.\d MiB .*8192 layers x 2 x 512 positions x 4 kv heads x 16 x 4 bytes/) });
            await expect(model.generate(request("dual"))).resolves.toMatchObject({ fullSteps: 4 });
        } finally {
            await model.dispose();
        }
    });

    test("stream with a cache: text events join to the result's text", async () => {
        let text = "";
        let done = "";
        for await (const event of llada.stream("The canvas fills in", { genLength: 32, blockLength: 8, raw: true, cache: "dual" })) {
            if (event.type === "text") text += event.text;
            if (event.type === "done") done = event.result.text;
        }
        expect(text).toBe(done);
    });

    test("abort mid-decode with a cache rejects with AbortError and the model goes on", async () => {
        const controller = new AbortController();
        let steps = 0;
        const run = llada.generate(PROMPT, { genLength: 64, blockLength: 16, strategy: "low-confidence", cache: "prefix", signal: controller.signal, onStep: () => { if (++steps === 5) controller.abort(); } });
        await expect(run).rejects.toBeInstanceOf(AbortError);
        await expect(llada.generate(PROMPT, { genLength: 16, cache: "prefix" })).resolves.toMatchObject({ cache: "prefix" });
    });
});
