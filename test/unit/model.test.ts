import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, jest, test } from "@jest/globals";
import type { LoadedAddon } from "../../lib/bindings/getAddon";
import type { AddonBuildInfo } from "../../lib/bindings/AddonTypes";
import {
    AbortError,
    AdaptiveBlockUnsupportedError,
    CacheUnsupportedError,
    CudaUnavailableError,
    InvalidInputError,
    InvalidOptionsError,
    ModelCorruptError,
    ModelDisposedError,
    ModelMetadataError,
    ModelMethodMissingError,
    ModelNotFoundError,
    OutOfMemoryError,
    PromptTooLongError,
    TokenizerError,
} from "../../lib/errors";
import { loadModel } from "../../lib/loadModel";
import type { GenerateOptions } from "../../lib/options";
import { byteLevelTokenizerJson, SPECIAL, tokenizerConfig } from "./helpers/byteLevelTokenizer";
import { FakeAddon, type FakeArchive } from "./helpers/fakeAddon";
import { validMetadata } from "./helpers/metadata";

const getAddonMock = jest.fn<() => Promise<LoadedAddon>>();
jest.mock("../../lib/bindings/getAddon", () => ({ getAddon: () => getAddonMock() }));
let defaultPath = "";
jest.mock("../../lib/utils/defaultModelPath", () => ({ defaultModelPath: () => defaultPath }));

let dir = "";
let modelPath = "";
beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "localleap-model-"));
    modelPath = path.join(dir, "model.pt");
    await writeFile(modelPath, "not read by the fake addon");
    await mkdir(path.join(dir, "folder"));
    await writeFile(path.join(dir, "folder", "model.pt"), "");
    await mkdir(path.join(dir, "tok"));
    await writeFile(path.join(dir, "tok", "tokenizer.json"), JSON.stringify(byteLevelTokenizerJson()));
    defaultPath = path.join(dir, "models", "reference", "model.pt");
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const fullArchive = (metadata: Record<string, unknown> = {}): FakeArchive => ({
    metadataJson: JSON.stringify(validMetadata(metadata)),
    tokenizerJson: JSON.stringify(byteLevelTokenizerJson()),
    tokenizerConfigJson: JSON.stringify(tokenizerConfig()),
});

let addon: FakeAddon;
function useAddon(fake: FakeAddon, binaryPath = "/pkg/prebuilds/linux-x64/localleap-cpu-torch1.13.napi.node"): FakeAddon {
    addon = fake;
    getAddonMock.mockResolvedValue({
        addon: fake,
        buildInfo: fake.info,
        binaryPath,
        variantName: fake.info.variant === "cuda" ? "cuda13.0-torch2.11" : "cpu-torch1.13",
        libtorch: null,
        attempts: [],
        libtorchFound: [],
        libtorchNotes: [],
    });
    return fake;
}
beforeEach(() => {
    getAddonMock.mockReset();
    useAddon(new FakeAddon(fullArchive()));
});

const cudaInfo = (over: Partial<AddonBuildInfo> = {}): AddonBuildInfo => ({
    variant: "cuda", torchVersion: "2.11.0", cudaVersion: "13.0", cudaAvailable: true, cudaDeviceCount: 1, cudaDeviceName: "H100", defaultThreads: 16, sourceHash: "", ...over,
});

describe("loadModel", () => {
    test("loads, validates metadata, configures the engine and describes the model", async () => {
        const progress: unknown[] = [];
        const model = await loadModel({ modelPath, threads: 2, onProgress: (p) => progress.push(p) });
        expect(addon.loadRequests[0]).toMatchObject({ path: modelPath, device: "cpu", threads: 2 });
        expect(progress).toEqual([{ stage: "reading", bytesRead: 10, totalBytes: 10 }]);
        expect(addon.models[0]?.configured).toEqual({ vocabSize: 320, maskId: 302, eosId: 301, endIds: [301, 303], padId: 301, logitsShifted: false, maxLength: 64 });
        expect(model.info).toMatchObject({
            path: modelPath,
            device: "cpu",
            dtype: "float32",
            threads: 2,
            fileBytes: 1234,
            parameterBytes: 4096,
            hasChatTemplate: true,
            tokenizerSource: `${modelPath} (embedded)`,
            build: { variant: "cpu", variantName: "cpu-torch1.13", torchVersion: "1.13.1" },
        });
        expect(model.info.metadata.name).toBe("test-tiny");
    });

    test("a folder holding model.pt is accepted", async () => {
        await loadModel({ modelPath: path.join(dir, "folder") });
        expect(addon.loadRequests[0]?.path).toBe(path.join(dir, "folder", "model.pt"));
    });

    test("invalid options reject before anything is loaded", async () => {
        await expect(loadModel({ device: "gpu" as never })).rejects.toBeInstanceOf(InvalidOptionsError);
        expect(getAddonMock).not.toHaveBeenCalled();
    });

    test("a missing model file is MODEL_NOT_FOUND; the missing default model says to run npm run setup", async () => {
        await expect(loadModel({ modelPath: path.join(dir, "absent.pt") })).rejects.toBeInstanceOf(ModelNotFoundError);
        await expect(loadModel({ modelPath: path.join(dir, "tok") })).rejects.toThrow(/folder without a model.pt/);
        await expect(loadModel()).rejects.toMatchObject({ code: "MODEL_NOT_FOUND", hint: expect.stringContaining("npm run setup") });
    });

    test("a bad tokenizerPath fails before the model is read", async () => {
        await expect(loadModel({ modelPath, tokenizerPath: path.join(dir, "nope") })).rejects.toMatchObject({ code: "TOKENIZER_MISSING" });
        expect(getAddonMock).not.toHaveBeenCalled();
    });

    test("native load errors are typed", async () => {
        addon.loadError = Object.assign(new Error("not a zip archive"), { code: "MODEL_CORRUPT" });
        await expect(loadModel({ modelPath })).rejects.toBeInstanceOf(ModelCorruptError);
        addon.loadError = Object.assign(new Error("CUDA out of memory"), { code: "OUT_OF_MEMORY" });
        await expect(loadModel({ modelPath })).rejects.toBeInstanceOf(OutOfMemoryError);
    });

    test("bad metadata is named, and the native model is freed", async () => {
        useAddon(new FakeAddon(fullArchive({ maskId: 999 })));
        await expect(loadModel({ modelPath })).rejects.toMatchObject({ code: "MODEL_METADATA_INVALID", field: "maskId" });
        expect(addon.models[0]?.disposeCalls).toBe(1);
        useAddon(new FakeAddon({}));
        await expect(loadModel({ modelPath })).rejects.toBeInstanceOf(ModelMetadataError);
    });

    test("a missing TorchScript method is named, and the native model is freed", async () => {
        useAddon(new FakeAddon({ ...fullArchive(), methods: ["forward", "logits_at"] }));
        const error = await loadModel({ modelPath }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ModelMethodMissingError);
        expect((error as Error).message).toContain("logits_at_padded");
        expect(addon.models[0]?.disposeCalls).toBe(1);
    });

    test("a failing probe forward is MODEL_PROBE_FAILED, and the native model is freed", async () => {
        const fake = useAddon(new FakeAddon(fullArchive()));
        const load = fake.loadModel.bind(fake);
        fake.loadModel = async (request) => {
            const result = await load(request);
            (result.model as (typeof fake.models)[number]).configureError = Object.assign(new Error("logits are [1, 8, 100]"), { code: "MODEL_PROBE_FAILED" });
            return result;
        };
        await expect(loadModel({ modelPath })).rejects.toMatchObject({ code: "MODEL_PROBE_FAILED" });
        expect(fake.models[0]?.disposeCalls).toBe(1);
    });

    test("a bosToken missing from the tokenizer is a TokenizerError", async () => {
        useAddon(new FakeAddon(fullArchive({ bosToken: "<s>" })));
        await expect(loadModel({ modelPath })).rejects.toBeInstanceOf(TokenizerError);
    });

    test("device: auto picks CUDA only with a CUDA build and a visible GPU", async () => {
        useAddon(new FakeAddon(fullArchive(), cudaInfo()));
        await loadModel({ modelPath });
        expect(addon.loadRequests[0]?.device).toBe("cuda");
        useAddon(new FakeAddon(fullArchive(), cudaInfo({ cudaAvailable: false, cudaDeviceCount: 0 })));
        await loadModel({ modelPath });
        expect(addon.loadRequests[0]?.device).toBe("cpu");
    });

    test("device: cuda without CUDA is CUDA_UNAVAILABLE, saying why", async () => {
        const cpuBuild = loadModel({ modelPath, device: "cuda" });
        await expect(cpuBuild).rejects.toBeInstanceOf(CudaUnavailableError);
        await expect(cpuBuild).rejects.toThrow(/CPU variant cpu-torch1.13/);
        useAddon(new FakeAddon(fullArchive(), cudaInfo({ cudaAvailable: false, cudaDeviceCount: 0 })));
        await expect(loadModel({ modelPath, device: "cuda" })).rejects.toThrow(/sees no CUDA device/);
        expect(addon.loadRequests).toHaveLength(0);
    });

    test("an aborted signal rejects with AbortError", async () => {
        const controller = new AbortController();
        controller.abort();
        await expect(loadModel({ modelPath, signal: controller.signal })).rejects.toBeInstanceOf(AbortError);
    });

    test("tokenizerPath replaces the embedded tokenizer", async () => {
        const model = await loadModel({ modelPath, tokenizerPath: path.join(dir, "tok") });
        expect(model.info.tokenizerSource).toBe(path.join(dir, "tok", "tokenizer.json"));
        // No tokenizer_config.json there: the metadata's chat template still applies.
        expect(model.info.hasChatTemplate).toBe(true);
    });
});

describe("Model.generate", () => {
    test("a raw string prompt gets BOS; the result stops before the first end token", async () => {
        const model = await loadModel({ modelPath });
        const native = addon.models[0]!;
        native.nextTokens = [259, 260, SPECIAL.eot, 111];
        native.pad = SPECIAL.eos;
        const result = await model.generate("hello", { genLength: 32, blockLength: 16, raw: true });
        const request = native.requests[0]!;
        expect(Array.from(request.prompts[0]!)).toEqual([SPECIAL.bos, 259]);
        expect(request).toMatchObject({ genLength: 32, blockLength: 16, strategy: "localleap", anchorThreshold: 0.9, relaxedThreshold: 0.75, radius: 4, seeds: [0], cudaGraph: false, stopAtEos: false });
        expect(result).toEqual({
            text: "hello w",
            tokens: [259, 260],
            steps: 4,
            stepsPerBlock: [2, 2],
            blockLengths: [16, 16],
            finishReason: "eos",
            timings: { totalMs: 100, msPerStep: 20, tokensPerSecond: 30, fullSteps: 4, msPerFullStep: 20, cachedSteps: 0, msPerCachedStep: 0, meanRowsPerForward: 0 },
            seed: 0,
            promptTokens: 2,
            cache: "none",
            cudaGraph: false,
            cudaGraphFallbackReason: "",
        });
    });

    test("an end token first gives empty text and eos", async () => {
        const model = await loadModel({ modelPath });
        addon.models[0]!.pad = SPECIAL.eos;
        const result = await model.generate("hello", { genLength: 8 });
        expect(result).toMatchObject({ text: "", tokens: [], finishReason: "eos" });
        expect(result.timings.tokensPerSecond).toBe(10);
    });

    test("without an end token the finish reason is length and every token counts", async () => {
        const model = await loadModel({ modelPath });
        addon.models[0]!.pad = 104;
        const result = await model.generate([1, 2, 3], { genLength: 8, strategy: "low-confidence", steps: 4 });
        expect(result.finishReason).toBe("length");
        expect(result.tokens).toHaveLength(8);
        expect(result.timings.tokensPerSecond).toBe(80);
        expect(addon.models[0]!.requests[0]).toMatchObject({ steps: 4, strategy: "low-confidence", blockLength: 8 });
    });

    test("token ids are used as given; Int32Array too", async () => {
        const model = await loadModel({ modelPath });
        await model.generate([5, 6], { genLength: 8 });
        await model.generate(Int32Array.from([7]), { genLength: 8 });
        expect(addon.models[0]!.requests.map((r) => Array.from(r.prompts[0]!))).toEqual([[5, 6], [7]]);
    });

    test.each([
        [[1, 320], /\[1\]: 320 is outside \[0, 320\)/],
        [[-1], /-1 is outside/],
        [[SPECIAL.mask], /302 is the mask id/],
        [[1.5], /1.5 is not an integer/],
        [[], /the prompt is empty/],
        ["", /the prompt is empty/],
        [[1, { role: "user", content: "x" }], /mixes token ids/],
        [42, /the prompt is 42/],
        [[{ role: "tool", content: "x" }], /messages\[0\].role is "tool"; allowed: "system", "user", "assistant"/],
        [[{ role: "user", content: 3 }], /messages\[0\].content is 3/],
    ])("bad input %p is an InvalidInputError", async (input, message) => {
        const model = await loadModel({ modelPath });
        const error = await model.generate(input as never, { genLength: 8 }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(InvalidInputError);
        expect((error as InvalidInputError).code).toBe("INVALID_INPUT");
        expect((error as Error).message).toMatch(message);
        expect((error as InvalidInputError).hint).toEqual(expect.any(String));
        expect(addon.models[0]!.requests).toHaveLength(0);
    });

    test("the mask token's text is text; with specialTokens: true it is the mask id and refused", async () => {
        const model = await loadModel({ modelPath });
        await model.generate("a <|mask|> b", { genLength: 8, raw: true });
        expect(Array.from(addon.models[0]!.requests[0]!.prompts[0]!)).not.toContain(SPECIAL.mask);
        await expect(model.generate("a <|mask|> b", { genLength: 8, raw: true, specialTokens: true })).rejects.toThrow(/is the mask id/);
    });

    test("chat messages go through the chat template", async () => {
        const model = await loadModel({ modelPath });
        await model.generate([{ role: "user", content: "hello" }], { genLength: 8 });
        const ids = Array.from(addon.models[0]!.requests[0]!.prompts[0]!);
        expect(ids).toEqual([SPECIAL.bos, SPECIAL.user, 259, SPECIAL.eot, SPECIAL.assistant]);
    });

    test("text far longer than the model takes is PROMPT_TOO_LONG before tokenizing (strings, messages, batch rows)", async () => {
        const model = await loadModel({ modelPath }); // maxLength 64: at most 64 * 32 characters
        const long = "x".repeat(64 * 32 + 1);
        await expect(model.generate(long, { genLength: 8 })).rejects.toMatchObject({ code: "PROMPT_TOO_LONG", message: expect.stringContaining("refused before tokenizing") });
        await expect(model.generate([{ role: "user", content: long }], { genLength: 8 })).rejects.toMatchObject({ code: "PROMPT_TOO_LONG" });
        await expect(model.generate(["ok", long], { genLength: 8 })).rejects.toThrow(/prompt 1 of the batch has 2049 characters/);
        expect(addon.models[0]!.requests).toHaveLength(0);
    });

    test("a string goes through the chat template unless raw", async () => {
        const model = await loadModel({ modelPath });
        await model.generate("hello", { genLength: 8 });
        await model.generate("hello", { genLength: 8, raw: true });
        const [templated, raw] = addon.models[0]!.requests.map((r) => Array.from(r.prompts[0]!));
        expect(templated).toEqual([SPECIAL.bos, SPECIAL.user, 259, SPECIAL.eot, SPECIAL.assistant]);
        expect(raw).toEqual([SPECIAL.bos, 259]);
    });

    test("raw text that gives a chat model empty output warns once, with a code, instead of staying silent", async () => {
        const warn = jest.spyOn(process, "emitWarning").mockImplementation(() => undefined);
        try {
            const model = await loadModel({ modelPath });
            addon.models[0]!.nextTokens = [SPECIAL.eot];
            addon.models[0]!.pad = SPECIAL.eot;
            expect((await model.generate("hello", { genLength: 8, raw: true })).text).toBe("");
            await model.generate("hello", { genLength: 8, raw: true });
            expect(warn).toHaveBeenCalledTimes(1);
            expect(warn.mock.calls[0]?.[0]).toMatch(/drop raw: true/);
            expect(warn.mock.calls[0]?.[1]).toMatchObject({ code: "LOCALLEAP_EMPTY_RAW_OUTPUT" });
            // Through the template, an empty answer is the model's answer: no warning.
            await model.generate("hello", { genLength: 8 });
            expect(warn).toHaveBeenCalledTimes(1);
        } finally {
            warn.mockRestore();
        }
    });

    test("a model without a chat template rejects messages and says what to do", async () => {
        useAddon(new FakeAddon({ ...fullArchive({ chatTemplate: null }), tokenizerConfigJson: "{}" }));
        const model = await loadModel({ modelPath });
        expect(model.info.hasChatTemplate).toBe(false);
        await expect(model.generate([{ role: "user", content: "x" }])).rejects.toThrow(/no chat template/);
    });

    test("a model without a tokenizer takes token ids only", async () => {
        useAddon(new FakeAddon({ metadataJson: JSON.stringify(validMetadata()) }));
        const model = await loadModel({ modelPath });
        expect(model.info.tokenizerSource).toBeNull();
        await expect(model.generate("hello")).rejects.toMatchObject({ code: "INVALID_INPUT", message: expect.stringContaining("no tokenizer") });
        const result = await model.generate([1, 2], { genLength: 8 });
        expect(result.text).toBe("");
    });

    test("prompt + genLength over maxLength says the limit and how much to cut", async () => {
        const model = await loadModel({ modelPath });
        const error = await model.generate([1, 2, 3, 4, 5], { genLength: 64, blockLength: 16 }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(PromptTooLongError);
        expect(error).toMatchObject({ code: "PROMPT_TOO_LONG", promptTokens: 5, maxLength: 64, excess: 5 });
        expect((error as PromptTooLongError).hint).toContain("lower genLength to 48 or less");
        await expect(model.generate([1, 2, 3, 4, 5], { genLength: 48, blockLength: 16 })).resolves.toBeDefined();
    });

    test("invalid options reject with InvalidOptionsError", async () => {
        const model = await loadModel({ modelPath });
        // Rejected by the type checker too (steps needs a scheduled strategy): this is the run-time check.
        await expect(model.generate("hi", { steps: 3 } as unknown as GenerateOptions)).rejects.toBeInstanceOf(InvalidOptionsError);
        await expect(model.generate("hi", { genLenght: 8 } as never)).rejects.toThrow(/did you mean genLength/);
    });

    test("a seed is drawn when sampling without one, and reported", async () => {
        const model = await loadModel({ modelPath });
        const result = await model.generate([1], { genLength: 8, temperature: 0.8 });
        expect(addon.models[0]!.requests[0]!.seeds).toEqual([result.seed]);
        expect(Number.isSafeInteger(result.seed)).toBe(true);
    });

    test("an already aborted signal rejects without calling the engine", async () => {
        const model = await loadModel({ modelPath });
        const controller = new AbortController();
        controller.abort();
        await expect(model.generate([1], { genLength: 8, signal: controller.signal })).rejects.toBeInstanceOf(AbortError);
        expect(addon.models[0]!.requests).toHaveLength(0);
    });

    test("aborting during generation aborts the native token and rejects with AbortError", async () => {
        const model = await loadModel({ modelPath });
        const native = addon.models[0]!;
        let open = () => undefined as void;
        native.gate = new Promise<void>((resolve) => (open = resolve));
        const controller = new AbortController();
        const pending = model.generate([1], { genLength: 8, signal: controller.signal });
        await new Promise((resolve) => setImmediate(resolve));
        controller.abort();
        expect(native.requests[0]?.abort?.aborted).toBe(true);
        open();
        await expect(pending).rejects.toMatchObject({ code: "ABORTED" });
    });

    test("out of memory while generating says what to lower", async () => {
        const model = await loadModel({ modelPath });
        addon.models[0]!.generateError = Object.assign(new Error("CUDA out of memory. Tried to allocate 2 GiB"), { code: "OUT_OF_MEMORY" });
        const error = await model.generate([1], { genLength: 8 }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(OutOfMemoryError);
        expect((error as OutOfMemoryError).hint).toMatch(/lower genLength/);
        addon.models[0]!.generateError = undefined;
        await expect(model.generate([1], { genLength: 8 })).resolves.toBeDefined();
    });

    test("options that throw when read: generate and stream reject with InvalidOptionsError", async () => {
        const model = await loadModel({ modelPath });
        const throwing = () => Object.defineProperty({}, "genLength", { enumerable: true, get: () => { throw new Error("boom"); } });
        await expect(model.generate([1], throwing())).rejects.toBeInstanceOf(InvalidOptionsError);
        await expect(model.stream([1], throwing()).result).rejects.toBeInstanceOf(InvalidOptionsError);
        expect(addon.models[0]!.requests).toHaveLength(0);
    });

    test("dispose is idempotent; generate afterwards rejects with ModelDisposedError", async () => {
        const model = await loadModel({ modelPath });
        const first = model.dispose();
        expect(model.dispose()).toBe(first);
        await first;
        expect(model.disposed).toBe(true);
        expect(addon.models[0]!.disposeCalls).toBe(1);
        await expect(model.generate([1])).rejects.toBeInstanceOf(ModelDisposedError);
        // The message names the call that was made.
        await expect(model.stream([1]).result).rejects.toThrow("stream() called on a disposed model");
    });
});

describe("KV cache option", () => {
    const v2 = { formatVersion: 2, kvCache: { layers: 2, kvHeads: 4, headDim: 16 } };

    test("a format-v2 model reports its cache and uses DEFAULT_CACHE unless told", async () => {
        useAddon(new FakeAddon(fullArchive(v2)));
        const model = await loadModel({ modelPath });
        expect(addon.models[0]!.configured?.kvCache).toEqual(v2.kvCache);
        expect(model.info.kvCache).toEqual({ ...v2.kvCache, bytesPerPosition: 64, bytesPerRowAtMaxLength: 64 * 64 });
        expect(model.info.defaultCache).toBe("dual");
        const result = await model.generate([1, 2], { genLength: 8 });
        expect(addon.models[0]!.requests[0]!.cache).toBe("dual");
        expect(result.cache).toBe("dual");
        expect(result.timings).toMatchObject({ fullSteps: 1, cachedSteps: 1, msPerFullStep: 50, msPerCachedStep: 30 });
        const none = await model.generate([1, 2], { genLength: 8, cache: "none" });
        expect(addon.models[0]!.requests[1]!.cache).toBe("none");
        expect(none.cache).toBe("none");
    });

    test("a format-v1 model runs without a cache and refuses one with CACHE_UNSUPPORTED", async () => {
        useAddon(new FakeAddon(fullArchive()));
        const model = await loadModel({ modelPath });
        expect(model.info.kvCache).toBeNull();
        expect(model.info.defaultCache).toBe("none");
        await model.generate([1, 2], { genLength: 8 });
        expect(addon.models[0]!.requests[0]!.cache).toBe("none");
        for (const cache of ["prefix", "dual"] as const) {
            const error = await model.generate([1, 2], { genLength: 8, cache }).catch((e: unknown) => e);
            expect(error).toBeInstanceOf(CacheUnsupportedError);
            expect(error).toMatchObject({ code: "CACHE_UNSUPPORTED", hint: expect.stringContaining("re-export") });
        }
        expect(addon.models[0]!.requests).toHaveLength(1);
    });

    test("an unknown cache mode is an option error", async () => {
        useAddon(new FakeAddon(fullArchive(v2)));
        const model = await loadModel({ modelPath });
        await expect(model.generate([1, 2], { genLength: 8, cache: "full" as never })).rejects.toMatchObject({ code: "INVALID_OPTIONS", message: expect.stringContaining("cache") });
    });
});

describe("adaptiveBlock option", () => {
    const v2 = { formatVersion: 2, kvCache: { layers: 2, kvHeads: 4, headDim: 16 } };

    test("the archive's delimiterIds reach the engine; defaults resolve from genLength and delimiterThreshold", async () => {
        useAddon(new FakeAddon(fullArchive({ delimiterIds: [10], delimiterThreshold: 0.5 })));
        const model = await loadModel({ modelPath });
        expect(addon.models[0]!.configured?.delimiterIds).toEqual([10]);
        const result = await model.generate([1, 2], { genLength: 10, blockLength: 4, adaptiveBlock: true });
        expect(addon.models[0]!.requests[0]).toMatchObject({ genLength: 10, blockLength: 4, adaptiveBlock: { window: 2, delimiterThreshold: 0.5 } });
        expect(result.blockLengths).toEqual([4, 4, 2]);
        await model.generate([1, 2], { genLength: 8, adaptiveBlock: { window: 3, delimiterThreshold: 0.2 } });
        expect(addon.models[0]!.requests[1]!.adaptiveBlock).toEqual({ window: 3, delimiterThreshold: 0.2 });
        await model.generate([1, 2], { genLength: 8 });
        expect(addon.models[0]!.requests[2]!.adaptiveBlock).toBeUndefined();
    });

    test("an archive without delimiterIds refuses it with ADAPTIVE_BLOCK_UNSUPPORTED before the engine runs", async () => {
        useAddon(new FakeAddon(fullArchive()));
        const model = await loadModel({ modelPath });
        const error = await model.generate([1, 2], { genLength: 8, adaptiveBlock: true }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(AdaptiveBlockUnsupportedError);
        expect(error).toMatchObject({ code: "ADAPTIVE_BLOCK_UNSUPPORTED", message: expect.stringContaining("re-export") });
        expect(addon.models[0]!.requests).toHaveLength(0);
    });

    test("a cached adaptive call takes one prompt; a batch without an explicit cache runs with none", async () => {
        useAddon(new FakeAddon(fullArchive({ ...v2, delimiterIds: [10] })));
        const model = await loadModel({ modelPath });
        await model.generate([1, 2], { genLength: 8, adaptiveBlock: true });
        expect(addon.models[0]!.requests[0]!.cache).toBe("dual");
        await model.generate([[1, 2], [3]], { genLength: 8, adaptiveBlock: true });
        expect(addon.models[0]!.requests[1]!.cache).toBe("none");
        const error = await model.generate([[1, 2], [3]], { genLength: 8, adaptiveBlock: true, cache: "prefix" }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(InvalidOptionsError);
        expect(error).toMatchObject({ message: expect.stringContaining("one prompt per call") });
        expect(addon.models[0]!.requests).toHaveLength(2);
    });
});

describe("decodingDefaults of the archive", () => {
    const defaults = { localleap: { anchorThreshold: 0.8, relaxedThreshold: 0.6, radius: 2 }, threshold: { threshold: 0.7 } };

    test("model.info shows them; generate() uses them for the fields the caller leaves out, explicit options win", async () => {
        const fake = useAddon(new FakeAddon(fullArchive({ decodingDefaults: defaults })));
        const model = await loadModel({ modelPath });
        expect(model.info.decodingDefaults).toEqual(defaults);
        await model.generate("hi", { genLength: 8 });
        await model.generate("hi", { genLength: 8, radius: 5 });
        await model.generate("hi", { genLength: 8, anchorThreshold: 0.5 });
        await model.generate("hi", { genLength: 8, strategy: "threshold" });
        await model.generate("hi", { genLength: 8, strategy: "threshold", threshold: 0.95 });
        const r = fake.models[0]!.requests.map((q) => [q.strategy, q.anchorThreshold, q.relaxedThreshold, q.radius, q.threshold]);
        expect(r).toEqual([
            ["localleap", 0.8, 0.6, 2, 0.7],
            ["localleap", 0.8, 0.6, 5, 0.7],
            ["localleap", 0.5, 0.5, 2, 0.7], // τ = min(model τ, κ)
            ["threshold", 0.8, 0.6, 2, 0.7],
            ["threshold", 0.8, 0.6, 2, 0.95],
        ]);
        await model.dispose();
    });

    test("without them model.info.decodingDefaults is null and the built-in defaults apply", async () => {
        const fake = useAddon(new FakeAddon(fullArchive()));
        const model = await loadModel({ modelPath });
        expect(model.info.decodingDefaults).toBeNull();
        await model.generate("hi", { genLength: 8 });
        const q = fake.models[0]!.requests[0]!;
        expect([q.anchorThreshold, q.relaxedThreshold, q.radius, q.threshold]).toEqual([0.9, 0.75, 4, 0.9]);
        await model.dispose();
    });

    test("out-of-range defaults fail the load naming the field", async () => {
        useAddon(new FakeAddon(fullArchive({ decodingDefaults: { threshold: { threshold: 1.5 } } })));
        await expect(loadModel({ modelPath })).rejects.toMatchObject({ code: "MODEL_METADATA_INVALID", field: "decodingDefaults.threshold.threshold" });
    });
});
