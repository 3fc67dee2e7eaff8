// Archives written with plain torch.jit.script + torch.jit.save that try to read or write files,
// re-point the engine's tensors, raise in the probe, or inflate an extra file: each is refused with
// its typed error, and none touches a file.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { loadModel, LocalleapError, type LoadModelOptions, type Model, ModelUnsafeError } from "../../lib";
import { getAddon } from "../../lib/bindings/getAddon";
import { mapAddonError } from "../../lib/bindings/utils/mapAddonError";
import { type HostileArchives, makeHostileArchives, SECRET_TEXT, VICTIM_TEXT } from "../support/hostileArchives";

let h: HostileArchives;
beforeAll(() => {
    h = makeHostileArchives();
});
afterAll(() => {
    if (h) rmSync(h.dir, { recursive: true, force: true });
});

/** The error loadModel rejects with (fails the test when it loads). */
async function loadError(name: string, options: LoadModelOptions = {}): Promise<LocalleapError> {
    let model: Model | undefined;
    try {
        model = await loadModel({ modelPath: h.archive(name), device: "cpu", ...options });
    } catch (error) {
        expect(error).toBeInstanceOf(LocalleapError);
        return error as LocalleapError;
    }
    await model.dispose();
    throw new Error(`${name} loaded; it should have been refused`);
}

const PROMPT = [5, 6, 7, 8];
const inVocab = (tokens: number[]) => tokens.every((t) => Number.isInteger(t) && t >= 0 && t < 64);

function expectFilesUntouched(): void {
    expect(readFileSync(h.secret, "utf8")).toBe(SECRET_TEXT);
    expect(readFileSync(h.victim, "utf8")).toBe(VICTIM_TEXT);
    expect(existsSync(h.writtenByForward)).toBe(false);
    expect(existsSync(h.writtenBySetstate)).toBe(false);
}

describe("operators outside the allowlist: MODEL_UNSAFE, no file touched", () => {
    const cases: [archive: string, operator: string][] = [
        ["save-in-forward", "aten::save"],
        ["read-secret", "aten::from_file"],
        ["overwrite-shared", "aten::from_file"],
        ["write-in-setstate", "aten::save"], // runs inside torch::jit::load: caught by the code scan
        ["set-input", "aten::set_"],
        ["custom-op", "mylib::index_select"],
    ];
    test.each(cases)("%s is refused naming %s", async (archive, operator) => {
        const error = await loadError(archive);
        expect(error).toBeInstanceOf(ModelUnsafeError);
        expect(error.code).toBe("MODEL_UNSAFE");
        expect((error as ModelUnsafeError).operator).toBe(operator);
        expect(error.message).toContain(operator);
        expect(error.message).toMatch(/code\/__torch__\.py:\d+/);
        expect(error.hint).toContain("trustModelCode: true");
        expectFilesUntouched();
    });

    test("the valid archive of the same family loads and generates (the checks are not blanket refusals)", async () => {
        const model = await loadModel({ modelPath: h.archive("valid"), device: "cpu" });
        try {
            const result = await model.generate(PROMPT, { genLength: 8, blockLength: 8 });
            expect(result.tokens).toHaveLength(8);
            expect(inVocab(result.tokens)).toBe(true);
        } finally {
            await model.dispose();
        }
    });
});

describe("the KV cache is the engine's memory", () => {
    test("a valid format-v2 archive of the same family generates with every cache mode", async () => {
        const model = await loadModel({ modelPath: h.archive("valid-cache"), device: "cpu" });
        try {
            expect(model.info.kvCache).toMatchObject({ layers: 1, kvHeads: 1, headDim: 16 });
            for (const cache of ["none", "prefix", "dual"] as const) {
                const result = await model.generate(PROMPT, { genLength: 16, blockLength: 8, strategy: "low-confidence", cache });
                expect(result.tokens.length + (result.finishReason === "eos" ? 1 : 0)).toBeGreaterThan(0);
                expect(inVocab(result.tokens)).toBe(true);
                if (cache !== "none") expect(result.timings.cachedSteps).toBeGreaterThan(0);
            }
        } finally {
            await model.dispose();
        }
    });

    test.each(["resize-cache", "repoint-cache"])("%s: refused as MODEL_UNSAFE, and with trustModelCode the probe's check says what it did", async (name) => {
        await expect(loadModel({ modelPath: h.archive(name), device: "cpu" })).rejects.toMatchObject({ code: "MODEL_UNSAFE" });
        await expect(loadModel({ modelPath: h.archive(name), device: "cpu", trustModelCode: true })).rejects.toMatchObject({
            code: "MODEL_PROBE_FAILED",
            message: expect.stringMatching(/(cache_full|cache_step) resized or re-pointed the KV cache tensor/),
        });
    });
});

describe("the engine never shares its buffers with the model", () => {
    test("trustModelCode: true loads set-input; its ids.set_() re-points a copy, not the canvas", async () => {
        const model = await loadModel({ modelPath: h.archive("set-input"), device: "cpu", trustModelCode: true });
        try {
            const result = await model.generate(PROMPT, { genLength: 16, blockLength: 8 });
            expect(result.tokens).toHaveLength(16);
            expect(inVocab(result.tokens)).toBe(true);
        } finally {
            await model.dispose();
        }
    });

    test("ids the model writes into its input (2^40 + 5) never reach the result, truncated or not", async () => {
        const model = await loadModel({ modelPath: h.archive("write-huge-ids"), device: "cpu" });
        try {
            const result = await model.generate(PROMPT, { genLength: 16, blockLength: 8 });
            expect(result.tokens).toHaveLength(16);
            expect(inVocab(result.tokens)).toBe(true);
        } finally {
            await model.dispose();
        }
    });

    test("logits of the wrong shape at generate: MODEL_PROBE_FAILED naming the method, not INTERNAL", async () => {
        const model = await loadModel({ modelPath: h.archive("wrong-shape-later"), device: "cpu" });
        try {
            await expect(model.generate(PROMPT, { genLength: 16, blockLength: 8 })).rejects.toMatchObject({
                code: "MODEL_PROBE_FAILED",
                message: expect.stringMatching(/logits_at returned \[1, 1, 64\].*expected \[1, 8, 64\]/),
            });
            // The model is still usable with what it handles.
            expect((await model.generate([5], { genLength: 4, blockLength: 4 })).tokens).toHaveLength(4);
        } finally {
            await model.dispose();
        }
    });
});

describe("typed load errors", () => {
    test("a probe forward that raises: MODEL_PROBE_FAILED with the model's message", async () => {
        const error = await loadError("probe-raises");
        expect(error.code).toBe("MODEL_PROBE_FAILED");
        expect(error.message).toContain("hostile probe");
    });

    test("integer logits: MODEL_PROBE_FAILED", async () => {
        const error = await loadError("int-logits");
        expect(error.code).toBe("MODEL_PROBE_FAILED");
        expect(error.message).toMatch(/logits_at returned \[1, 8, 64\] Long/);
    });

    test("localleap.json inflating to 8 MiB: MODEL_METADATA_INVALID naming the entry and the limit, quickly", async () => {
        const t0 = Date.now();
        const error = await loadError("inflated-metadata");
        expect(error.code).toBe("MODEL_METADATA_INVALID");
        expect((error as LocalleapError & { field: string }).field).toBe("localleap.json");
        expect(error.message).toMatch(/localleap\.json is 8388\d+ bytes, over the limit of 1 MiB/);
        expect(Date.now() - t0).toBeLessThan(5000);
    });

    test("tokenizer.json inflating to 65 MiB: TOKENIZER_INVALID naming the entry and the limit", async () => {
        const error = await loadError("inflated-tokenizer");
        expect(error.code).toBe("TOKENIZER_INVALID");
        expect(error.message).toMatch(/tokenizer\.json is \d+ bytes, over the limit of 64 MiB/);
    });

    test("vocabSize 2^31 in localleap.json: MODEL_METADATA_INVALID naming vocabSize", async () => {
        const error = await loadError("huge-vocab");
        expect(error.code).toBe("MODEL_METADATA_INVALID");
        expect((error as LocalleapError & { field: string }).field).toBe("vocabSize");
    });

    test("metadata the engine cannot take is MODEL_METADATA_INVALID from the native configure too", async () => {
        const { addon } = await getAddon({ device: "cpu" });
        const loaded = await addon.loadModel({ path: h.archive("valid"), device: "cpu", threads: 0 });
        try {
            const config = { vocabSize: 64, maskId: 63, eosId: 0, padId: 0, endIds: [0], logitsShifted: false, maxLength: 64 };
            const bad: [field: string, change: Partial<typeof config>][] = [
                ["endIds", { endIds: [0, 1, 2, 3, 4, 5, 6, 7, 8] }],
                ["maxLength", { maxLength: 1 }],
                ["maxLength", { maxLength: 2 ** 30 }],
                ["vocabSize", { vocabSize: 2 ** 31 }],
            ];
            for (const [field, change] of bad) {
                const error = await loadedConfigureError(loaded.model, { ...config, ...change });
                expect(error).toMatchObject({ code: "MODEL_METADATA_INVALID", field });
                expect(mapAddonError(error, "configure")).toMatchObject({ code: "MODEL_METADATA_INVALID", field });
            }
        } finally {
            await loaded.model.dispose();
        }
    });

    test("an operator this libtorch lacks (sdpa on 1.13): MODEL_INCOMPATIBLE saying what to upgrade", async () => {
        const torchMajor = Number((await getAddon({ device: "cpu" })).buildInfo.torchVersion.split(".")[0]);
        if (torchMajor >= 2) {
            // libtorch 2.x has the operator, and it is on the allowlist: never MODEL_UNSAFE.
            const outcome = await loadModel({ modelPath: h.archive("missing-op"), device: "cpu" }).then(
                (model) => model.dispose().then(() => "loaded"),
                (error: LocalleapError) => error.code,
            );
            expect(outcome).not.toBe("MODEL_UNSAFE");
            return;
        }
        const error = await loadError("missing-op");
        expect(error.code).toBe("MODEL_INCOMPATIBLE");
        expect(error.message).toContain("scaled_dot_product_attention");
        expect(error.hint).toMatch(/newer libtorch/);
    });
});

describe("generate options the engine refuses", () => {
    let model: Model;
    beforeAll(async () => {
        model = await loadModel({ modelPath: h.archive("valid"), device: "cpu" });
    });
    afterAll(async () => {
        await model?.dispose();
    });

    test.each([1e-40, 2.9e-39, 1e-45, 1e-4])("temperature %p: INVALID_OPTIONS naming temperature (before the engine)", async (temperature) => {
        await expect(model.generate(PROMPT, { genLength: 8, blockLength: 8, temperature })).rejects.toMatchObject({
            code: "INVALID_OPTIONS",
            message: expect.stringMatching(/temperature: got .*; allowed: 0 \(greedy\) or a finite number from 0.001/),
        });
    });

    test.each([1e-40, 2.9e-39, 1e-45])("temperature %p (1/T infinite in float32) is refused by the engine too", async (temperature) => {
        const { addon } = await getAddon({ device: "cpu" });
        const loaded = await addon.loadModel({ path: h.archive("valid"), device: "cpu", threads: 0 });
        try {
            await loaded.model.configure({ vocabSize: 64, maskId: 63, eosId: 0, padId: 0, endIds: [0], logitsShifted: false, maxLength: 64 });
            const error = await loaded.model.generate({
                prompts: [Int32Array.from(PROMPT)], genLength: 8, blockLength: 8, strategy: "localleap", steps: 8, threshold: 0.9,
                anchorThreshold: 0.9, relaxedThreshold: 0.75, radius: 4, temperature, seeds: [1], stopAtEos: false, cudaGraph: false,
            }).then(() => null, (e: unknown) => mapAddonError(e, "generate"));
            expect(error).toMatchObject({ code: "INVALID_OPTIONS", message: expect.stringMatching(/temperature must be 0 \(greedy\) or at least 3e-39/) });
        } finally {
            await loaded.model.dispose();
        }
    });

    test("temperature 0.001 samples", async () => {
        const result = await model.generate(PROMPT, { genLength: 8, blockLength: 8, temperature: 0.001, seed: 1 });
        expect(inVocab(result.tokens)).toBe(true);
    });
});

async function loadedConfigureError(model: { configure(config: object): Promise<unknown> }, config: object): Promise<unknown> {
    try {
        await model.configure(config);
    } catch (error) {
        return error;
    }
    throw new Error(`configure(${JSON.stringify(config)}) succeeded`);
}
