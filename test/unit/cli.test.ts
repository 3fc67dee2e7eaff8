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
    finishReason: "eos",
    timings: { totalMs: 250, msPerStep: 40, tokensPerSecond: 12 },
    seed: 0,
    promptTokens: 7,
    cudaGraph: false,
    cudaGraphFallbackReason: "",
};

let out = "";
let generate: jest.Mock<(input: unknown, options: unknown) => Promise<GenerateResult>>;
let dispose: jest.Mock<() => Promise<void>>;
beforeEach(() => {
    out = "";
    jest.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
        out += String(chunk);
        return true;
    });
    generate = jest.fn<(input: unknown, options: unknown) => Promise<GenerateResult>>().mockResolvedValue(result);
    dispose = jest.fn<() => Promise<void>>().mockResolvedValue(undefined);
    loadModelMock.mockReset().mockResolvedValue({ generate, dispose } as unknown as Model);
});
afterEach(() => {
    jest.restoreAllMocks();
});

const run = (...args: string[]) => generateCommand().exitOverride().parseAsync(args, { from: "user" });

describe("localleap generate", () => {
    test("every generate option has its kebab-case flag", () => {
        const flags = generateCommand().options.map((o) => o.long);
        for (const flag of ["--gen-length", "--block-length", "--strategy", "--steps", "--threshold", "--anchor-threshold", "--relaxed-threshold",
            "--radius", "--temperature", "--seed", "--stop-at-eos", "--model", "--tokenizer", "--device", "--threads", "--json"]) {
            expect(flags).toContain(flag);
        }
    });

    test("flags become options; prints the text, then steps, finish reason and timings", async () => {
        await run("What is the capital of France?", "--model", "m.pt", "--device", "cpu", "--threads", "3", "--gen-length", "64",
            "--block-length", "16", "--anchor-threshold", "0.8", "--relaxed-threshold", "0.7", "--radius", "2", "--stop-at-eos");
        expect(loadModelMock).toHaveBeenCalledWith(expect.objectContaining({ modelPath: "m.pt", device: "cpu", threads: 3 }));
        const [input, options] = generate.mock.calls[0]!;
        expect(input).toBe("What is the capital of France?");
        expect(options).toMatchObject({ genLength: 64, blockLength: 16, anchorThreshold: 0.8, relaxedThreshold: 0.7, radius: 2, stopAtEos: true });
        expect(options).not.toHaveProperty("steps");
        expect(out).toBe("Paris.\nsteps: 5 (per block: 3 2), finish: eos, 250.0 ms total, 40.00 ms/step, 12.0 tokens/s\n");
        expect(dispose).toHaveBeenCalledTimes(1);
    });

    test("--chat sends messages, --json prints the result", async () => {
        await run("hi", "--chat", "--system", "be brief", "--json");
        expect(generate.mock.calls[0]![0]).toEqual([{ role: "system", content: "be brief" }, { role: "user", content: "hi" }]);
        expect(JSON.parse(out)).toEqual(result);
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
    });
});
