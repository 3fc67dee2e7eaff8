import { afterEach, beforeEach, describe, expect, jest, test } from "@jest/globals";
import { generateCommand } from "../../lib/cli/commands/generate";
import { formatStats } from "../../lib/cli/utils/formatStats";
import { parseNumberFlag } from "../../lib/cli/utils/parseNumberFlag";
import { InvalidOptionsError } from "../../lib/errors";
import type { Model } from "../../lib/model";
import type { GenerateResult } from "../../lib/types";

const loadModelMock = jest.fn<(options: unknown) => Promise<Model>>();
jest.mock("../../lib/loadModel", () => ({ loadModel: (options: unknown) => loadModelMock(options) }));

const result: GenerateResult = {
    text: "Paris.",
    tokens: [1, 2],
    steps: 5,
    stepsPerBlock: [3, 2],
    blockLengths: [16, 16],
    finishReason: "eos",
    timings: { totalMs: 250, msPerStep: 40, tokensPerSecond: 12, fullSteps: 5, msPerFullStep: 40, cachedSteps: 0, msPerCachedStep: 0, meanRowsPerForward: 1 },
    seed: 0,
    promptTokens: 7,
    cache: "none",
    cudaGraph: false,
    cudaGraphFallbackReason: "",
};

let out = "";
let err = "";
let hasChatTemplate = true;
let generate: jest.Mock<(input: unknown, options: unknown) => Promise<GenerateResult>>;
let dispose: jest.Mock<() => Promise<void>>;
beforeEach(() => {
    out = "";
    err = "";
    hasChatTemplate = true;
    process.exitCode = undefined;
    jest.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
        out += String(chunk);
        return true;
    });
    jest.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
        err += String(chunk);
        return true;
    });
    generate = jest.fn<(input: unknown, options: unknown) => Promise<GenerateResult>>().mockResolvedValue(result);
    dispose = jest.fn<() => Promise<void>>().mockResolvedValue(undefined);
    loadModelMock.mockReset().mockImplementation(async () => ({ generate, dispose, info: { hasChatTemplate, metadata: { name: "m" } } }) as unknown as Model);
});
afterEach(() => {
    jest.restoreAllMocks();
    process.exitCode = undefined;
});

const run = (...args: string[]) => generateCommand().exitOverride().parseAsync(args, { from: "user" });

describe("localleap generate", () => {
    test("every generate option has its kebab-case flag", () => {
        const flags = generateCommand().options.map((o) => o.long);
        for (const flag of ["--gen-length", "--block-length", "--strategy", "--steps", "--threshold", "--anchor-threshold", "--relaxed-threshold",
            "--radius", "--accept-threshold", "--temperature", "--seed", "--cache", "--stop-at-eos", "--adaptive-block", "--adaptive-window", "--delimiter-threshold", "--model", "--tokenizer", "--device", "--threads", "--json"]) {
            expect(flags).toContain(flag);
        }
    });

    test("flags become options; the text on stdout, steps, finish reason and timings on stderr", async () => {
        await run("What is the capital of France?", "--model", "m.pt", "--device", "cpu", "--threads", "3", "--gen-length", "64",
            "--block-length", "16", "--anchor-threshold", "0.8", "--relaxed-threshold", "0.7", "--radius", "2", "--stop-at-eos", "--end-of-text");
        expect(loadModelMock).toHaveBeenCalledWith(expect.objectContaining({ modelPath: "m.pt", device: "cpu", threads: 3 }));
        const [input, options] = generate.mock.calls[0]!;
        expect(input).toBe("What is the capital of France?");
        expect(options).toMatchObject({ genLength: 64, blockLength: 16, anchorThreshold: 0.8, relaxedThreshold: 0.7, radius: 2, stopAtEos: true, endOfText: true });
        expect(options).not.toHaveProperty("steps");
        expect(out).toBe("Paris.\n");
        expect(err).toContain("steps: 5 (per block: 3 2), finish: eos, 250.0 ms total, 40.00 ms/step, 12.0 tokens/s, cache none\n");
        expect(dispose).toHaveBeenCalledTimes(1);
    });

    test("--strategy learned --accept-threshold become options", async () => {
        await run("Hi", "--strategy", "learned", "--accept-threshold", "0.9");
        expect(generate.mock.calls[0]![1]).toMatchObject({ strategy: "learned", acceptThreshold: 0.9 });
    });

    test("--cache becomes the cache option; without it the model's default applies", async () => {
        await run("Hi", "--cache", "prefix");
        expect(generate.mock.calls[0]![1]).toMatchObject({ cache: "prefix" });
        await run("Hi");
        expect(generate.mock.calls[1]![1]).not.toHaveProperty("cache");
    });

    test("--adaptive-block, --adaptive-window and --delimiter-threshold become the adaptiveBlock option", async () => {
        await run("Hi", "--adaptive-block", "--gen-length", "100");
        expect(generate.mock.calls[0]![1]).toMatchObject({ adaptiveBlock: true, genLength: 100 });
        await run("Hi", "--adaptive-window", "12");
        expect(generate.mock.calls[1]![1]).toMatchObject({ adaptiveBlock: { window: 12 } });
        await run("Hi", "--adaptive-block", "--delimiter-threshold", "0.5", "--adaptive-window", "8");
        expect(generate.mock.calls[2]![1]).toMatchObject({ adaptiveBlock: { window: 8, delimiterThreshold: 0.5 } });
        await run("Hi");
        expect(generate.mock.calls[3]![1]).not.toHaveProperty("adaptiveBlock");
    });

    test("--chat sends messages, --json prints the result", async () => {
        await run("hi", "--chat", "--system", "be brief", "--json");
        expect(generate.mock.calls[0]![0]).toEqual([{ role: "system", content: "be brief" }, { role: "user", content: "hi" }]);
        expect(JSON.parse(out)).toEqual(result);
    });

    test("--raw, --stop (repeatable) and --max-tokens become options", async () => {
        await run("1 + 1 =", "--raw", "--stop", "\n", "--stop", "END", "--max-tokens", "8");
        expect(generate.mock.calls[0]![1]).toMatchObject({ raw: true, stop: ["\n", "END"], maxTokens: 8 });
    });

    test("--chat on a model without a chat template is an error that says so", async () => {
        hasChatTemplate = false;
        await expect(run("hi", "--chat")).rejects.toMatchObject({ code: "INVALID_INPUT", message: expect.stringContaining("no chat template") });
        expect(generate).not.toHaveBeenCalled();
    });

    test("--json prints errors as one JSON document with exit code 1", async () => {
        await run("hi", "--gen-length", "abc", "--json");
        const doc = JSON.parse(out) as { error: { code: string; message: string; issues: { field: string }[] } };
        expect(doc.error.code).toBe("INVALID_OPTIONS");
        expect(doc.error.issues[0]?.field).toBe("genLength");
        expect(process.exitCode).toBe(1);
        expect(err).toBe("");
    });

    test("a bad flag value is rejected before the model is loaded, with the value typed", async () => {
        const error = await run("hi", "--gen-length", "abc").catch((e: unknown) => e);
        expect(error).toBeInstanceOf(InvalidOptionsError);
        expect((error as Error).message).toContain('genLength: got "abc"');
        expect(loadModelMock).not.toHaveBeenCalled();
    });

    test("the model is disposed when generation fails", async () => {
        generate.mockRejectedValue(new Error("boom"));
        await expect(run("hi")).rejects.toThrow("boom");
        expect(dispose).toHaveBeenCalledTimes(1);
    });
});

describe("CLI helpers", () => {
    test("parseNumberFlag keeps non-numbers as typed", () => {
        expect(parseNumberFlag("64")).toBe(64);
        expect(parseNumberFlag("0.75")).toBe(0.75);
        expect(parseNumberFlag("abc")).toBe("abc");
        expect(parseNumberFlag("")).toBe("");
        expect(parseNumberFlag("Infinity")).toBe("Infinity");
    });

    test("formatStats", () => {
        expect(formatStats(result)).toContain("steps: 5");
        expect(formatStats(result)).toContain("cache ");
        // Strategy apd: its causal-LM forwards and accepted tokens per step instead of the block cache.
        const apd = formatStats({ ...result, steps: 3, dllmForwards: 3, arForwards: 2, acceptedPerStep: [1, 9, 4] });
        expect(apd).toContain("apd: 2 causal-LM forwards, accepted per step 1 9 4");
        expect(apd).not.toContain("cache");
    });
});
