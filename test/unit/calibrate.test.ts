// calibrate's pure parts: the selection rule on hand-made tables, the prompt-set reader, the
// options' errors, the metadata field and parseGenerateOptions with model defaults.
import { describe, expect, test } from "@jest/globals";
import { parseCalibrateOptions } from "../../lib/calibrate/calibrate";
import { checkFinalAnswer, parseIntegerAnswer } from "../../lib/calibrate/answerChecker";
import { DEFAULT_CALIBRATION_GRID, gridSettings } from "../../lib/calibrate/grid";
import { parsePromptSet } from "../../lib/calibrate/promptSet";
import { calibrationPlot, calibrationTable } from "../../lib/calibrate/report";
import { selectSetting, withinBudget } from "../../lib/calibrate/select";
import { InvalidOptionsError, PromptSetError } from "../../lib/errors";
import { parseModelMetadata } from "../../lib/metadata";
import { parseGenerateOptions } from "../../lib/options";
import { formatDecodingDefaults } from "../../lib/cli/utils/formatModelInfo";
import { validMetadata } from "./helpers/metadata";

const s = (quality: number, meanSteps: number) => ({ quality, meanSteps });

describe("selection rule", () => {
    // Baseline 90 %, budget 1 point: 89 qualifies, 88.9 does not.
    const table = [s(90, 40), s(89, 20), s(88.9, 10), s(95, 30), s(89.5, 20), s(70, 5)];

    test("the fewest mean steps among settings within the budget; ties go to the higher quality", () => {
        // Within budget: 0 (40 steps), 1 (20), 3 (30), 4 (20): 1 and 4 tie on steps, 4 has higher quality.
        expect(selectSetting(table, 90, 1)).toBe(4);
    });

    test("a larger budget admits cheaper settings; a budget of 100 takes the cheapest", () => {
        expect(selectSetting(table, 90, 1.1)).toBe(2);
        expect(selectSetting(table, 90, 100)).toBe(5);
    });

    test("budget 0: only settings at least as good as the baseline", () => {
        expect(selectSetting(table, 90, 0)).toBe(3);
        expect(selectSetting([s(89.99, 1)], 90, 0)).toBeNull();
    });

    test("exact ties keep the grid's order; a loss equal to the budget qualifies despite float noise", () => {
        expect(selectSetting([s(80, 10), s(80, 10)], 80, 1)).toBe(0);
        // 100 * 49 / 50 = 98, 100 * 1/3 noise: the boundary is inclusive.
        expect(withinBudget((100 * 2) / 3, (100 * 2) / 3 - 1, 1)).toBe(true);
        expect(withinBudget(100, 98, 2)).toBe(true);
        expect(withinBudget(100, 97.9, 2)).toBe(false);
    });

    test("none within the budget: null; a better-than-baseline setting always qualifies", () => {
        expect(selectSetting([s(50, 3), s(60, 4)], 90, 1)).toBeNull();
        expect(selectSetting([], 90, 1)).toBeNull();
        expect(selectSetting([s(99, 7)], 90, 0)).toBe(0);
    });
});

describe("grid", () => {
    test("τ <= κ only; τ = κ runs once (W cannot matter); threshold follows in order", () => {
        const settings = gridSettings(["localleap", "threshold"], { anchorThreshold: [0.5, 0.9], relaxedThreshold: [0.5, 0.7], radius: [1, 4], threshold: [0.8] });
        expect(settings).toEqual([
            { strategy: "localleap", anchorThreshold: 0.5, relaxedThreshold: 0.5, radius: 1 },
            { strategy: "localleap", anchorThreshold: 0.9, relaxedThreshold: 0.5, radius: 1 },
            { strategy: "localleap", anchorThreshold: 0.9, relaxedThreshold: 0.5, radius: 4 },
            { strategy: "localleap", anchorThreshold: 0.9, relaxedThreshold: 0.7, radius: 1 },
            { strategy: "localleap", anchorThreshold: 0.9, relaxedThreshold: 0.7, radius: 4 },
            { strategy: "threshold", threshold: 0.8 },
        ]);
        expect(gridSettings(["localleap", "threshold"], DEFAULT_CALIBRATION_GRID)).toHaveLength(6 + 4 * (0 + 1 + 2 + 3 + 4 + 5) + 5);
    });
});

describe("prompt set (JSONL)", () => {
    test("prompt or question, chat messages, number or string answers, ids; blank lines skipped, lines numbered", () => {
        const text = [
            '{"prompt": "Tom has 3 apples.", "answer": 3}',
            "",
            '{"question": "Q2", "answer": "-4", "id": "train:1"}',
            '{"prompt": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]}',
        ].join("\n");
        expect(parsePromptSet(text, "p.jsonl")).toEqual([
            { prompt: "Tom has 3 apples.", answer: "3", line: 1 },
            { prompt: "Q2", answer: "-4", id: "train:1", line: 3 },
            { prompt: [{ role: "system", content: "be brief" }, { role: "user", content: "hi" }], line: 4 },
        ]);
    });

    test.each([
        ['{"prompt": "a"}\n{"prompt": "b"', 2, /p\.jsonl:2: not valid JSON/],
        ['{"prompt": "a"}\n[1, 2]', 2, /expected a JSON object/],
        ['\n\n{"answer": 3}', 3, /"question" is missing/],
        ['{"prompt": ""}', 1, /"prompt" is empty/],
        ['{"prompt": [{"role": "robot", "content": "x"}]}', 1, /"prompt"\[0\]/],
        ['{"prompt": "a", "answer": true}', 1, /"answer" is true/],
        ['{"prompt": "a", "question": "b"}', 1, /both/],
    ])("%p: PROMPT_SET_INVALID naming line %p", (text, line, says) => {
        let error: unknown;
        try {
            parsePromptSet(text, "p.jsonl");
        } catch (e) {
            error = e;
        }
        expect(error).toBeInstanceOf(PromptSetError);
        expect(error).toMatchObject({ code: "PROMPT_SET_INVALID", line, file: "p.jsonl" });
        expect((error as Error).message).toMatch(says);
    });

    test("an empty set is an error", () => {
        expect(() => parsePromptSet("\n \n", "e.jsonl")).toThrow(expect.objectContaining({ code: "PROMPT_SET_INVALID", message: expect.stringContaining("no prompts") }));
    });
});

describe("calibrate options", () => {
    const prompts = [{ prompt: "x", answer: "1" }];

    test("defaults", () => {
        const o = parseCalibrateOptions({ prompts });
        expect(o).toMatchObject({ strategies: ["localleap", "threshold"], budget: 1, metric: "auto", genLength: 128, blockLength: 32, batchSize: 16, raw: false });
        expect(o.grid).toEqual(DEFAULT_CALIBRATION_GRID);
    });

    test("every bad field is listed: an unknown strategy, a budget out of range, a bad grid, a bad shape", () => {
        let error: unknown;
        try {
            parseCalibrateOptions({ prompts: [], strategies: ["random"], budget: 101, grid: { radius: [-1] }, genLength: 48, blockLength: 32, batchSiz: 2 });
        } catch (e) {
            error = e;
        }
        expect(error).toBeInstanceOf(InvalidOptionsError);
        const issues = (error as InvalidOptionsError).issues;
        expect(issues.map((i) => i.field).sort()).toEqual(["batchSiz", "blockLength", "budget", "grid.radius.0", "prompts", "strategies.0"].sort());
        expect(issues.find((i) => i.field === "strategies.0")?.message).toMatch(/low-confidence and random have no parameter/);
        expect(issues.find((i) => i.field === "budget")?.message).toMatch(/from 0 to 100/);
        expect(issues.find((i) => i.field === "batchSiz")?.message).toMatch(/did you mean batchSize/);
    });

    test("a grid where no τ <= κ leaves localleap nothing to run", () => {
        expect(() => parseCalibrateOptions({ prompts, strategies: ["localleap"], grid: { anchorThreshold: [0.5], relaxedThreshold: [0.9] } }))
            .toThrow(expect.objectContaining({ code: "INVALID_OPTIONS", issues: [expect.objectContaining({ field: "grid.relaxedThreshold" })] }));
    });
});

describe("answer checker", () => {
    test("the final-answer rule of bench/accuracy (the same function, moved into lib/)", () => {
        expect(checkFinalAnswer("3 + 4 = 7.\nThe answer is 7.", "7")).toBe(true);
        expect(checkFinalAnswer("#### 12\nAnswer: 13", "13")).toBe(true);
        expect(checkFinalAnswer("#### 12\nAnswer: 13", "12")).toBe(false);
        expect(checkFinalAnswer("no mark 7", "7")).toBe(false);
        expect(checkFinalAnswer("The answer is -5", " -5 ")).toBe(true);
        expect(parseIntegerAnswer("1.5")).toBeNull();
        expect(checkFinalAnswer("The answer is 1", "1.0")).toBe(false);
    });
});

describe("decodingDefaults in localleap.json", () => {
    const parse = (decodingDefaults: unknown) => parseModelMetadata(JSON.stringify(validMetadata({ decodingDefaults })), "t.pt");
    const fieldOf = (decodingDefaults: unknown) => {
        try {
            parse(decodingDefaults);
        } catch (error) {
            return (error as { field: string }).field;
        }
        return null;
    };

    test("valid values parse, in a v1 or v2 archive; the field is optional", () => {
        const d = { localleap: { anchorThreshold: 0.8, relaxedThreshold: 0.8, radius: 0 }, threshold: { threshold: 1 }, calibration: { date: "2026-12-01", prompts: 5, metric: "accuracy", budget: 1, extra: [1] } };
        expect(parse(d).decodingDefaults).toEqual(d);
        expect(parse({}).decodingDefaults).toEqual({});
        expect(parseModelMetadata(JSON.stringify(validMetadata()), "t").decodingDefaults).toBeUndefined();
    });

    test("bad values name the field", () => {
        expect(fieldOf({ localleap: { anchorThreshold: 1.1 } })).toBe("decodingDefaults.localleap.anchorThreshold");
        expect(fieldOf({ localleap: { radius: 1.5 } })).toBe("decodingDefaults.localleap.radius");
        expect(fieldOf({ localleap: { anchorThreshold: 0.5, relaxedThreshold: 0.6 } })).toBe("decodingDefaults.localleap.relaxedThreshold");
        expect(fieldOf({ threshold: { theta: 0.5 } })).toBe("decodingDefaults.threshold");
        expect(fieldOf({ steps: 3 })).toBe("decodingDefaults");
        expect(fieldOf({ calibration: { date: "x", prompts: 0, metric: "accuracy", budget: 1 } })).toBe("decodingDefaults.calibration.prompts");
    });

    test("parseGenerateOptions fills each left-out field from them, then from the built-in defaults", () => {
        const d = { localleap: { relaxedThreshold: 0.6 }, threshold: { threshold: 0.7 } };
        expect(parseGenerateOptions({}, undefined, d)).toMatchObject({ anchorThreshold: 0.9, relaxedThreshold: 0.6, radius: 4 });
        expect(parseGenerateOptions({ anchorThreshold: 0.55 }, undefined, d)).toMatchObject({ anchorThreshold: 0.55, relaxedThreshold: 0.55 });
        expect(parseGenerateOptions({ strategy: "threshold" }, undefined, d).threshold).toBe(0.7);
        expect(parseGenerateOptions({ strategy: "threshold", threshold: 0.2 }, undefined, d).threshold).toBe(0.2);
        expect(() => parseGenerateOptions({ relaxedThreshold: 0.85 }, undefined, { localleap: { anchorThreshold: 0.8 } })).toThrow(/0\.8, the model's default/);
    });

    test("localleap info's line", () => {
        expect(formatDecodingDefaults({ decodingDefaults: null })).toMatch(/^built-in/);
        expect(formatDecodingDefaults({ decodingDefaults: { localleap: { anchorThreshold: 0.8, relaxedThreshold: 0.6, radius: 2 }, calibration: { date: "2026-12-01T10:00:00Z", prompts: 50, metric: "accuracy", budget: 1 } } }))
            .toBe("localleap κ 0.8 τ 0.6 W 2; other fields built-in (calibrated 2026-12-01 on 50 prompts, accuracy, budget 1 point)");
    });
});

describe("table and plot", () => {
    const report = {
        metric: "agreement" as const, budget: 1, prompts: 2, genLength: 8, blockLength: 8, cache: "none" as const,
        baseline: { quality: 100, correct: 2, meanSteps: 8, totalSteps: 16 },
        points: [
            { setting: { strategy: "threshold" as const, threshold: 0.5 }, label: "threshold θ 0.5", quality: 50, correct: 1, loss: 50, meanSteps: 2, totalSteps: 4, withinBudget: false },
            { setting: { strategy: "threshold" as const, threshold: 0.9 }, label: "threshold θ 0.9", quality: 100, correct: 2, loss: 0, meanSteps: 4, totalSteps: 8, withinBudget: true },
        ],
        picks: {}, decodingDefaults: {}, elapsedMs: 1,
    };
    report.picks = { threshold: report.points[1] };

    test("one row per setting after the baseline, the pick marked; the SVG is a document", () => {
        const table = calibrationTable(report).trim().split("\n");
        expect(table).toHaveLength(5);
        expect(table[2]).toMatch(/^\| low-confidence \(baseline, 8 steps\) \|/);
        expect(table[4]).toBe("| threshold |  |  |  | 0.9 | 100 | 0 | 4 | 2.00x | yes | **pick** |");
        expect(calibrationPlot(report)).toMatch(/^<svg [^>]*>[\s\S]*<\/svg>\n$/);
    });
});
