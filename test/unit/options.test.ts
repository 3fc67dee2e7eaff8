import { describe, expect, test } from "@jest/globals";
import { InvalidOptionsError, LocalleapError } from "../../lib/errors";
import { MAX_SEED, parseGenerateOptions, parseLoadModelOptions } from "../../lib/options";

/** The InvalidOptionsError thrown by fn; fails the test when fn does not throw one. */
function optionsError(fn: () => unknown): InvalidOptionsError {
    try {
        fn();
    } catch (error) {
        expect(error).toBeInstanceOf(InvalidOptionsError);
        expect(error).toBeInstanceOf(LocalleapError);
        expect((error as InvalidOptionsError).code).toBe("INVALID_OPTIONS");
        return error as InvalidOptionsError;
    }
    throw new Error("expected an InvalidOptionsError, nothing was thrown");
}

describe("generate options: defaults", () => {
    test("empty options resolve to the documented defaults", () => {
        expect(parseGenerateOptions({})).toEqual({
            maskGlyph: "░",
            genLength: 128,
            blockLength: 32,
            strategy: "localleap",
            steps: 128,
            threshold: 0.9,
            anchorThreshold: 0.9,
            relaxedThreshold: 0.75,
            radius: 4,
            acceptThreshold: 0.96,
            temperature: 0,
            seed: 0,
            stopAtEos: false,
            endOfText: false,
            cudaGraph: true,
            raw: false,
            specialTokens: false,
            stop: [],
            maxTokens: null,
            mixtureWeight: 0.7,
            kvWindow: 16,
            maxLookahead: 100,
            adaptiveBlock: null,
        });
        expect(parseGenerateOptions(undefined).genLength).toBe(128);
    });

    test("strategy apd: one block of genLength, R / W / M given or defaulted, kvWindow null kept", () => {
        const o = parseGenerateOptions({ strategy: "apd", genLength: 40, mixtureWeight: 0.25, kvWindow: null, maxLookahead: 3 });
        expect([o.blockLength, o.mixtureWeight, o.kvWindow, o.maxLookahead]).toEqual([40, 0.25, null, 3]);
        const d = parseGenerateOptions({ strategy: "apd", genLength: 40, blockLength: 40 });
        expect([d.blockLength, d.mixtureWeight, d.kvWindow, d.maxLookahead]).toEqual([40, 0.7, 16, 100]);
        const fields = (options: Record<string, unknown>) => {
            try {
                parseGenerateOptions(options);
            } catch (error) {
                return (error as { issues: { field: string }[] }).issues.map((i) => i.field);
            }
            return [];
        };
        expect(fields({ strategy: "apd", genLength: 40, blockLength: 8 })).toEqual(["blockLength"]);
        expect(fields({ strategy: "apd", cache: "dual" })).toEqual(["cache"]);
        expect(fields({ strategy: "apd", mixtureWeight: 2, kvWindow: 0, maxLookahead: 0 })).toEqual(["mixtureWeight", "kvWindow", "maxLookahead"]);
        expect(fields({ strategy: "threshold", mixtureWeight: 0.5, kvWindow: 4, maxLookahead: 2 })).toEqual(["mixtureWeight", "kvWindow", "maxLookahead"]);
        // APD with the other features: endOfText / stopAtEos end its rows; adaptiveBlock (no blocks to size),
        // acceptThreshold (strategy learned's) and cache are refused.
        expect(parseGenerateOptions({ strategy: "apd", genLength: 40, endOfText: true, stopAtEos: true }).endOfText).toBe(true);
        expect(fields({ strategy: "apd", adaptiveBlock: true })).toEqual(["adaptiveBlock"]);
        expect(fields({ strategy: "apd", adaptiveBlock: { window: 4 } })).toEqual(["adaptiveBlock"]);
        expect(parseGenerateOptions({ strategy: "apd", adaptiveBlock: false }).adaptiveBlock).toBeNull();
        expect(fields({ strategy: "apd", acceptThreshold: 0.9 })).toEqual(["acceptThreshold"]);
        expect(fields({ strategy: "learned", mixtureWeight: 0.5 })).toEqual(["mixtureWeight"]);
        expect(() => parseGenerateOptions({ strategy: "apd", adaptiveBlock: true })).toThrow(expect.objectContaining({
            code: "INVALID_OPTIONS",
            issues: [expect.objectContaining({ field: "adaptiveBlock", allowed: 'false or left out with strategy "apd"', message: expect.stringContaining('strategy "apd" decodes left to right in one block') })],
        }));
    });

    test("acceptThreshold (strategy learned): the option, else the filter's stored value, else 0.96", () => {
        expect(parseGenerateOptions({ strategy: "learned" }).acceptThreshold).toBe(0.96);
        expect(parseGenerateOptions({ strategy: "learned" }, undefined, undefined, undefined, 0.8).acceptThreshold).toBe(0.8);
        expect(parseGenerateOptions({ strategy: "learned", acceptThreshold: 0.5 }, undefined, undefined, undefined, 0.8).acceptThreshold).toBe(0.5);
        expect(parseGenerateOptions({ strategy: "learned", acceptThreshold: 0 }).acceptThreshold).toBe(0);
        expect(parseGenerateOptions({ strategy: "learned", acceptThreshold: 1 }).acceptThreshold).toBe(1);
        for (const bad of [-0.1, 1.5, NaN, "0.9"]) {
            expect(() => parseGenerateOptions({ strategy: "learned", acceptThreshold: bad })).toThrow(expect.objectContaining({
                code: "INVALID_OPTIONS", issues: [expect.objectContaining({ field: "acceptThreshold", allowed: "a number from 0 to 1" })],
            }));
        }
        expect(() => parseGenerateOptions({ strategy: "threshold", acceptThreshold: 0.9 })).toThrow(expect.objectContaining({
            issues: [expect.objectContaining({ field: "acceptThreshold", message: expect.stringContaining('applies only to strategy "learned"') })],
        }));
        expect(() => parseGenerateOptions({ strategy: "learned", steps: 64 })).toThrow(expect.objectContaining({ issues: [expect.objectContaining({ field: "steps" })] }));
    });

    test("steps defaults to genLength for low-confidence", () => {
        const o = parseGenerateOptions({ strategy: "low-confidence", genLength: 64 });
        expect(o.steps).toBe(64);
        expect(o.blockLength).toBe(32);
    });

    test("blockLength defaults to genLength when genLength < 32", () => {
        expect(parseGenerateOptions({ genLength: 8 }).blockLength).toBe(8);
    });

    test("relaxedThreshold defaults to min(0.75, anchorThreshold)", () => {
        expect(parseGenerateOptions({ anchorThreshold: 0.6 }).relaxedThreshold).toBe(0.6);
        expect(parseGenerateOptions({ anchorThreshold: 0.95 }).relaxedThreshold).toBe(0.75);
    });

    test("temperature > 0 without a seed draws a seed in [0, 2^53)", () => {
        expect(parseGenerateOptions({ temperature: 0.7 }, () => 12345).seed).toBe(12345);
        const seed = parseGenerateOptions({ temperature: 0.7 }).seed;
        expect(Number.isSafeInteger(seed)).toBe(true);
        expect(seed).toBeGreaterThanOrEqual(0);
        expect(parseGenerateOptions({ temperature: 0.7, seed: 9 }, () => 1).seed).toBe(9);
        expect(parseGenerateOptions({ temperature: 0 }, () => 1).seed).toBe(0);
    });

    test("an AbortSignal is accepted and kept", () => {
        const signal = new AbortController().signal;
        expect(parseGenerateOptions({ signal }).signal).toBe(signal);
    });
});

describe("generate options: each field rejects bad values and says what is allowed", () => {
    const cases: [field: string, value: unknown, allowed: RegExp, extra?: Record<string, unknown>][] = [
        ["genLength", 0, /integer from 1 to 65536/],
        ["genLength", 12.5, /integer from 1 to 65536/],
        ["genLength", 70000, /integer from 1 to 65536/],
        ["genLength", "128", /integer from 1 to 65536/],
        ["genLength", Number.NaN, /integer from 1 to 65536/],
        ["blockLength", 0, /integer from 1 to 65536 that divides genLength/],
        ["blockLength", -4, /divides genLength/],
        ["strategy", "fast", /"low-confidence", "random", "threshold", "localleap"/],
        ["strategy", 3, /"localleap"/],
        ["steps", 0, /multiple of genLength \/ blockLength/, { strategy: "low-confidence" }],
        ["steps", 1.5, /multiple of genLength \/ blockLength/, { strategy: "random" }],
        ["threshold", 1.5, /number from 0 to 1/, { strategy: "threshold" }],
        ["threshold", -0.1, /number from 0 to 1/, { strategy: "threshold" }],
        ["anchorThreshold", 2, /number from 0 to 1/],
        ["relaxedThreshold", "high", /at most anchorThreshold/],
        ["radius", -1, /integer from 0 to 65536/],
        ["radius", 2.5, /integer from 0 to 65536/],
        ["temperature", -1, /finite number from 0.001/],
        ["temperature", Number.POSITIVE_INFINITY, /finite number from 0.001/],
        // 1 / T overflows float32 below ~3e-39 (degenerate output); everything below 1e-3 is refused.
        ["temperature", 1e-40, /finite number from 0.001/],
        ["temperature", 1e-4, /finite number from 0.001/],
        ["raw", "yes", /true or false/],
        ["stop", "", /non-empty string/],
        ["stop", ["ok", ""], /non-empty string/],
        ["stop", Array.from({ length: 17 }, () => "x"), /up to 16/],
        ["maxTokens", 0, /integer from 1 to genLength/],
        ["maxTokens", 200, /integer from 1 to genLength/],
        ["onTextChunk", "log", /function/],
        ["seed", -1, /integer from 0 to 2\^53 - 1/],
        ["seed", MAX_SEED + 1, /integer from 0 to 2\^53 - 1/],
        ["seed", 0.5, /integer from 0 to 2\^53 - 1/],
        ["stopAtEos", "yes", /true or false/],
        ["cudaGraph", 1, /true or false/],
        ["signal", {}, /AbortSignal/],
    ];
    test.each(cases)("%s = %p", (field, value, allowed, extra = {}) => {
        const error = optionsError(() => parseGenerateOptions({ ...extra, [field]: value }));
        const issue = error.issues.find((i) => i.field === field || i.field.startsWith(`${field}.`));
        expect(issue).toBeDefined();
        expect(issue?.allowed).toMatch(allowed);
        expect(error.message).toContain(field);
        expect(error.message).toMatch(allowed);
        expect(error.hint).toBeTruthy();
    });

    test("stop takes one string or a list; maxTokens up to genLength", () => {
        expect(parseGenerateOptions({ stop: "\n" }).stop).toEqual(["\n"]);
        expect(parseGenerateOptions({ stop: ["a", "b"] }).stop).toEqual(["a", "b"]);
        expect(parseGenerateOptions({ maxTokens: 128 }).maxTokens).toBe(128);
    });

    test("options that throw when read are an InvalidOptionsError, not the getter's error", () => {
        const throwing = Object.defineProperty({}, "genLength", { enumerable: true, get: () => { throw new Error("boom"); } });
        expect(optionsError(() => parseGenerateOptions(throwing)).message).toContain("could not be read: boom");
        const proxy = new Proxy({}, { ownKeys: () => { throw new Error("trap"); } });
        expect(optionsError(() => parseGenerateOptions(proxy)).message).toContain("could not be read");
        expect(optionsError(() => parseLoadModelOptions(throwing)).code).toBe("INVALID_OPTIONS");
    });

    test("the message shows the value given", () => {
        const error = optionsError(() => parseGenerateOptions({ genLength: "abc" }));
        expect(error.message).toContain('genLength: got "abc"');
        expect(optionsError(() => parseGenerateOptions({ temperature: Number.NaN })).message).toContain("got NaN");
    });

    test("every bad field is listed, not just the first", () => {
        const error = optionsError(() => parseGenerateOptions({ genLength: 0, strategy: "x", seed: -2 }));
        expect(error.issues.map((i) => i.field).sort()).toEqual(["genLength", "seed", "strategy"]);
    });

    test("unknown keys are rejected by name, with a suggestion", () => {
        const error = optionsError(() => parseGenerateOptions({ gen_length: 64, wibble: 1 }));
        expect(error.issues.map((i) => i.field).sort()).toEqual(["gen_length", "wibble"]);
        expect(error.message).toContain('unknown option "gen_length" (did you mean genLength?)');
        expect(error.message).toContain('unknown option "wibble";');
        expect(error.message).toContain("anchorThreshold");
    });

    test("options that are not an object are rejected", () => {
        expect(optionsError(() => parseGenerateOptions(42)).message).toContain("options: got 42");
        expect(optionsError(() => parseGenerateOptions([1])).issues[0]?.field).toBe("");
    });
});

describe("generate options: cross-field rules", () => {
    test("genLength must be a multiple of blockLength, with divisors suggested", () => {
        const error = optionsError(() => parseGenerateOptions({ genLength: 48, blockLength: 32 }));
        expect(error.issues[0]?.field).toBe("blockLength");
        expect(error.message).toContain("genLength (48) is not a multiple of blockLength (32)");
        expect(error.message).toMatch(/e\.g\. .*\b24\b/);
        const defaulted = optionsError(() => parseGenerateOptions({ genLength: 40 }));
        expect(defaulted.issues[0]?.field).toBe("genLength");
        expect(defaulted.message).toContain("32, the default");
    });

    test("steps must be a multiple of the number of blocks, from numBlocks to genLength", () => {
        expect(parseGenerateOptions({ strategy: "low-confidence", genLength: 128, blockLength: 32, steps: 64 }).steps).toBe(64);
        expect(parseGenerateOptions({ strategy: "random", genLength: 128, blockLength: 32, steps: 4 }).steps).toBe(4);
        for (const steps of [2, 6, 130, 132]) {
            const error = optionsError(() => parseGenerateOptions({ strategy: "low-confidence", genLength: 128, blockLength: 32, steps }));
            expect(error.issues[0]?.field).toBe("steps");
            expect(error.message).toContain("multiple of genLength / blockLength = 4 from 4 to 128");
        }
    });

    test.each(["threshold", "localleap"] as const)("steps is rejected with strategy %s", (strategy) => {
        const error = optionsError(() => parseGenerateOptions({ strategy, steps: 128 }));
        expect(error.issues[0]?.field).toBe("steps");
        expect(error.message).toContain('steps applies only to strategy "low-confidence" or "random"');
    });

    test("strategy-specific thresholds are rejected with other strategies", () => {
        expect(optionsError(() => parseGenerateOptions({ threshold: 0.8 })).message).toContain('threshold applies only to strategy "threshold"');
        for (const [field, value] of [["anchorThreshold", 0.5], ["relaxedThreshold", 0.5], ["radius", 2]] as const) {
            const error = optionsError(() => parseGenerateOptions({ strategy: "threshold", [field]: value }));
            expect(error.issues[0]?.field).toBe(field);
            expect(error.message).toContain(`${field} applies only to strategy "localleap"`);
        }
        expect(parseGenerateOptions({ strategy: "threshold", threshold: 0.8 }).threshold).toBe(0.8);
        expect(parseGenerateOptions({ anchorThreshold: 0.8, relaxedThreshold: 0.7, radius: 2 })).toMatchObject({
            anchorThreshold: 0.8,
            relaxedThreshold: 0.7,
            radius: 2,
        });
    });

    test("relaxedThreshold above anchorThreshold is rejected", () => {
        const error = optionsError(() => parseGenerateOptions({ anchorThreshold: 0.8, relaxedThreshold: 0.85 }));
        expect(error.issues[0]?.field).toBe("relaxedThreshold");
        expect(error.message).toContain("relaxedThreshold (0.85) must be at most anchorThreshold (0.8)");
        expect(parseGenerateOptions({ anchorThreshold: 0.8, relaxedThreshold: 0.8 }).relaxedThreshold).toBe(0.8);
    });
});

describe("loadModel options", () => {
    test("apd: arModelPath may be left out (the embedded model's causal LM), else a non-empty string", () => {
        expect(parseLoadModelOptions({ apd: {} }).apd).toEqual({});
        expect(parseLoadModelOptions({ apd: { arModelPath: "ar.pt" } }).apd).toEqual({ arModelPath: "ar.pt" });
        for (const apd of [{ arModelPath: "" }, { arModelPath: 5 }, { arModel: "ar.pt" }, "ar.pt"]) {
            const error = optionsError(() => parseLoadModelOptions({ apd } as never));
            expect(error.issues[0]?.field).toMatch(/^apd/);
        }
    });

    test('device "cuda:N" is accepted as given', () => {
        expect(parseLoadModelOptions({ device: "cuda:0" }).device).toBe("cuda:0");
        expect(parseLoadModelOptions({ device: "cuda:7" }).device).toBe("cuda:7");
    });

    test("defaults", () => {
        expect(parseLoadModelOptions(undefined)).toEqual({ device: "auto", threads: 0, maxQueuedGenerations: 1024, maxBatchSize: 32, trustModelCode: false, probeTimeoutMs: 60000 });
        expect(parseLoadModelOptions({ modelPath: "m.pt", device: "cpu", threads: 4, maxQueuedGenerations: 8 }))
            .toEqual({ modelPath: "m.pt", device: "cpu", threads: 4, maxQueuedGenerations: 8, maxBatchSize: 32, trustModelCode: false, probeTimeoutMs: 60000 });
    });

    const cases: [string, unknown, RegExp][] = [
        ["modelPath", "", /non-empty path/],
        ["modelPath", 5, /non-empty path/],
        ["tokenizerPath", null, /non-empty path/],
        ["device", "gpu", /"cpu", "cuda" \(GPU 0\), "cuda:N" \(GPU N\) or "auto"/],
        ["device", "cuda:01", /"cuda:N" \(GPU N\)/],
        ["device", "cuda:1.5", /"cuda:N" \(GPU N\)/],
        ["threads", -1, /integer from 0 to 1024/],
        ["threads", 2000, /integer from 0 to 1024/],
        ["maxBatchSize", 0, /integer from 1 to 4096/],
        ["maxBatchSize", 1.5, /integer from 1 to 4096/],
        ["threads", 1.5, /integer from 0 to 1024/],
        ["signal", "stop", /AbortSignal/],
        ["onProgress", 3, /a function/],
    ];
    test.each(cases)("%s = %p is rejected", (field, value, allowed) => {
        const error = optionsError(() => parseLoadModelOptions({ [field]: value }));
        expect(error.issues[0]?.field).toBe(field);
        expect(error.message).toMatch(allowed);
    });

    test("unknown keys are rejected", () => {
        const error = optionsError(() => parseLoadModelOptions({ model: "x.pt" }));
        expect(error.message).toContain('unknown option "model"');
        expect(error.message).toContain("modelPath");
    });
});

describe("generate options: adaptiveBlock", () => {
    test("true takes window floor(genLength / 4) and the model's delimiterThreshold, else 0.3", () => {
        expect(parseGenerateOptions({ genLength: 128, adaptiveBlock: true }).adaptiveBlock).toEqual({ window: 32, delimiterThreshold: 0.3 });
        expect(parseGenerateOptions({ genLength: 2, blockLength: 2, adaptiveBlock: true }).adaptiveBlock).toEqual({ window: 1, delimiterThreshold: 0.3 });
        expect(parseGenerateOptions({ genLength: 10, adaptiveBlock: {} }, undefined, undefined, 0.5).adaptiveBlock).toEqual({ window: 2, delimiterThreshold: 0.5 });
        expect(parseGenerateOptions({ adaptiveBlock: { window: 7, delimiterThreshold: 0.9 } }, undefined, undefined, 0.5).adaptiveBlock)
            .toEqual({ window: 7, delimiterThreshold: 0.9 });
        expect(parseGenerateOptions({ adaptiveBlock: false }).adaptiveBlock).toBeNull();
    });

    test("genLength need not be a multiple of blockLength, and steps is any count up to genLength", () => {
        expect(parseGenerateOptions({ genLength: 100, blockLength: 32, adaptiveBlock: true })).toMatchObject({ genLength: 100, blockLength: 32 });
        expect(parseGenerateOptions({ genLength: 100, blockLength: 32, strategy: "low-confidence", steps: 37, adaptiveBlock: true }).steps).toBe(37);
        const error = optionsError(() => parseGenerateOptions({ genLength: 100, blockLength: 32, strategy: "random", steps: 101, adaptiveBlock: true }));
        expect(error.issues[0]?.field).toBe("steps");
        expect(error.message).toContain("from 1 to genLength (100)");
        // Without adaptiveBlock the old rules hold.
        expect(optionsError(() => parseGenerateOptions({ genLength: 100, blockLength: 32 })).issues[0]?.field).toBe("blockLength");
    });

    test.each([
        [{ window: 0 }], [{ window: 1025 }], [{ window: 2.5 }], [{ delimiterThreshold: 1.5 }], [{ delimiterThreshold: -0.1 }],
        ["yes"], [1],
    ])("adaptiveBlock %p is rejected, saying what is allowed", (value) => {
        const error = optionsError(() => parseGenerateOptions({ adaptiveBlock: value }));
        expect(error.issues[0]?.field).toMatch(/^adaptiveBlock/);
        expect(error.message).toContain("adaptiveBlock");
    });

    test("an unknown key of adaptiveBlock is rejected by name", () => {
        expect(optionsError(() => parseGenerateOptions({ adaptiveBlock: { windows: 4 } })).message).toContain("windows");
    });
});
