import { z } from "zod";
import { AbortError, InvalidOptionsError, type OptionIssue, PromptSetError } from "../errors";
import type { DecodingDefaults } from "../metadata";
import type { Model } from "../model";
import { CACHE_MODES, type GenerateOptions, MAX_GEN_LENGTH, parseGenerateOptions } from "../options";
import { formatZodIssues } from "../schemas/formatZodIssues";
import type { CacheMode, ChatMessage } from "../types";
import { packageVersion } from "../utils/packageVersion";
import { type AnswerChecker, checkFinalAnswer, parseIntegerAnswer } from "./answerChecker";
import { CALIBRATED_STRATEGIES, type CalibratedStrategy, type CalibrationGrid, type CalibrationSetting, DEFAULT_CALIBRATION_GRID, gridSettings, settingLabel, settingOptions } from "./grid";
import type { CalibrationPrompt } from "./promptSet";
import { qualityLoss, selectSetting, withinBudget } from "./select";

/** Default {@link CalibrateOptions.budget}: one point of quality. */
export const DEFAULT_CALIBRATION_BUDGET = 1;
/** Default {@link CalibrateOptions.batchSize}. */
export const DEFAULT_CALIBRATION_BATCH = 16;

/** Progress of a calibration: rows (prompt x setting) decoded so far. */
export interface CalibrationProgress {
    /** Prompt decodes done, over every setting and the baseline. */
    done: number;
    /** Prompt decodes in all: prompts x (settings + 1). */
    total: number;
    /** The setting being decoded ("baseline low-confidence" first). */
    setting: string;
    /** 0 for the baseline, then 1..settings. */
    settingIndex: number;
    /** Settings in the grid, the baseline not counted. */
    settings: number;
}

/** Options of {@link calibrate}. */
export interface CalibrateOptions {
    /** The prompts to score (readPromptSet reads a JSONL file); at least one. */
    prompts: readonly CalibrationPrompt[];
    /** Strategies to sweep, in order: "localleap", "threshold" (default both). */
    strategies?: readonly CalibratedStrategy[];
    /** Most quality loss against the baseline, in points (0 to 100, default 1). */
    budget?: number;
    /**
     * "accuracy": every prompt needs an answer, checked by checkAnswer; "agreement": exact match
     * with the one-token baseline's text (answers ignored, no labels needed); "auto" (default):
     * accuracy when every prompt has an answer, agreement when none has.
     */
    metric?: "auto" | "accuracy" | "agreement";
    /** Values to sweep instead of {@link DEFAULT_CALIBRATION_GRID}'s, per parameter. */
    grid?: Partial<CalibrationGrid>;
    /** Canvas of every decode (default 128, as generate()). */
    genLength?: number;
    /** Block length of every decode (default as generate()). */
    blockLength?: number;
    /** KV cache of every decode (default: the model's). */
    cache?: CacheMode;
    /** Prompts per generate() call (1..1024, default 16). */
    batchSize?: number;
    /** Send string prompts as plain text instead of through the chat template (as generate()'s raw). */
    raw?: boolean;
    /** Whether a text answers a reference (default: the final-answer rule, integer answers). */
    checkAnswer?: AnswerChecker;
    /** Aborts between batches (rejects with AbortError). */
    signal?: AbortSignal;
    /** Called after every batch. */
    onProgress?: (progress: CalibrationProgress) => void;
}

/** One scored setting. */
export interface CalibrationPoint {
    setting: CalibrationSetting;
    /** e.g. "localleap κ 0.9 τ 0.7 W 4". */
    label: string;
    /** Quality in %: accuracy, or agreement with the baseline's text. */
    quality: number;
    /** Prompts counted correct (or agreeing). */
    correct: number;
    /** Baseline quality − quality, in points. */
    loss: number;
    /** Mean forward passes per prompt. */
    meanSteps: number;
    /** Forward passes of all prompts. */
    totalSteps: number;
    /** loss <= budget. */
    withinBudget: boolean;
}

/** What {@link calibrate} resolves to. */
export interface CalibrationReport {
    metric: "accuracy" | "agreement";
    budget: number;
    prompts: number;
    genLength: number;
    blockLength: number;
    cache: CacheMode;
    /** The one-token low-confidence baseline (steps = genLength). */
    baseline: { quality: number; correct: number; meanSteps: number; totalSteps: number };
    /** Every setting, in grid order. */
    points: CalibrationPoint[];
    /** Per strategy swept: the pick, or null when no setting stays within the budget. */
    picks: Partial<Record<CalibratedStrategy, CalibrationPoint | null>>;
    /**
     * The model's decodingDefaults after this calibration: each swept strategy's pick, the
     * model's previous value where none qualified, and a calibration record. What
     * writeDecodingDefaults() writes.
     */
    decodingDefaults: DecodingDefaults;
    /** Wall-clock time of the calibration. */
    elapsedMs: number;
}

const ALLOWED: Record<keyof CalibrateOptions, string> = {
    prompts: 'a non-empty array of { prompt: string or chat messages, answer?: string }',
    strategies: `a non-empty array of ${CALIBRATED_STRATEGIES.map((s) => `"${s}"`).join(", ")} (low-confidence and random have no parameter to calibrate)`,
    budget: "a number of points from 0 to 100",
    metric: '"auto", "accuracy" or "agreement"',
    grid: "an object { anchorThreshold?, relaxedThreshold?, threshold?: non-empty arrays of numbers in [0, 1], radius?: a non-empty array of integers from 0 to 65536 }",
    genLength: `an integer from 1 to ${MAX_GEN_LENGTH}`,
    blockLength: `an integer from 1 to ${MAX_GEN_LENGTH} that divides genLength`,
    cache: CACHE_MODES.map((c) => `"${c}"`).join(", "),
    batchSize: "an integer from 1 to 1024",
    raw: "true or false",
    checkAnswer: "a function (text, answer) => boolean",
    signal: "an AbortSignal",
    onProgress: "a function (progress) => void",
};

const isFunction = (value: unknown): value is (...args: never[]) => unknown => typeof value === "function";
const unitList = () => z.array(z.number().min(0).max(1)).min(1).optional();
const message = z.strictObject({ role: z.enum(["system", "user", "assistant"]), content: z.string() });

const schema = z.strictObject({
    prompts: z.array(z.object({
        prompt: z.union([z.string().min(1), z.array(message).min(1)]),
        answer: z.string().optional(),
        id: z.string().optional(),
        line: z.number().int().min(1).optional(),
    })).min(1),
    strategies: z.array(z.enum(CALIBRATED_STRATEGIES)).min(1).optional(),
    budget: z.number().min(0).max(100).default(DEFAULT_CALIBRATION_BUDGET),
    metric: z.enum(["auto", "accuracy", "agreement"]).default("auto"),
    grid: z.strictObject({
        anchorThreshold: unitList(),
        relaxedThreshold: unitList(),
        radius: z.array(z.number().int().min(0).max(MAX_GEN_LENGTH)).min(1).optional(),
        threshold: unitList(),
    }).optional(),
    genLength: z.number().optional(),
    blockLength: z.number().optional(),
    cache: z.enum(CACHE_MODES).optional(),
    batchSize: z.number().int().min(1).max(1024).default(DEFAULT_CALIBRATION_BATCH),
    raw: z.boolean().default(false),
    checkAnswer: z.custom<AnswerChecker>(isFunction).optional(),
    signal: z.instanceof(AbortSignal).optional(),
    onProgress: z.custom<(progress: CalibrationProgress) => void>(isFunction).optional(),
});

/** The validated options of a calibration (see {@link parseCalibrateOptions}). */
export interface ResolvedCalibrateOptions {
    prompts: CalibrationPrompt[];
    strategies: CalibratedStrategy[];
    budget: number;
    metric: "auto" | "accuracy" | "agreement";
    grid: CalibrationGrid;
    settings: CalibrationSetting[];
    genLength: number;
    blockLength: number;
    cache?: CacheMode;
    batchSize: number;
    raw: boolean;
    checkAnswer?: AnswerChecker;
    signal?: AbortSignal;
    onProgress?: (progress: CalibrationProgress) => void;
}

/**
 * Validates calibrate options; throws {@link InvalidOptionsError} listing every bad field
 * (genLength, blockLength and cache are checked as generate() checks them).
 */
export function parseCalibrateOptions(options: unknown): ResolvedCalibrateOptions {
    let issues: OptionIssue[] = [];
    let parsed: z.output<typeof schema> | undefined;
    try {
        const result = schema.safeParse(options ?? {});
        if (result.success) parsed = result.data;
        else issues = formatZodIssues(result.error.issues, options, ALLOWED);
    } catch (error) {
        issues = [{ field: "", given: "an object that throws when read", allowed: "a plain object", message: `the calibrate options could not be read: ${(error as Error)?.message ?? String(error)}` }];
    }
    // The decode shape, checked by generate()'s own rules.
    let shape: { genLength: number; blockLength: number } | undefined;
    try {
        const o = (typeof options === "object" && options !== null ? options : {}) as Record<string, unknown>;
        shape = parseGenerateOptions(Object.fromEntries(Object.entries({ genLength: o.genLength, blockLength: o.blockLength }).filter(([, v]) => v !== undefined)));
    } catch (error) {
        if (!(error instanceof InvalidOptionsError)) throw error;
        issues.push(...error.issues.filter((i) => !issues.some((j) => j.field === i.field)));
    }
    if (parsed === undefined || shape === undefined || issues.length > 0) throw new InvalidOptionsError("calibrate options", issues);

    const grid: CalibrationGrid = { ...DEFAULT_CALIBRATION_GRID, ...Object.fromEntries(Object.entries(parsed.grid ?? {}).filter(([, v]) => v !== undefined)) };
    const strategies = [...new Set(parsed.strategies ?? CALIBRATED_STRATEGIES)];
    const settings = gridSettings(strategies, grid);
    if (strategies.includes("localleap") && !settings.some((s) => s.strategy === "localleap")) {
        throw new InvalidOptionsError("calibrate options", [{
            field: "grid.relaxedThreshold", given: JSON.stringify(grid.relaxedThreshold), allowed: "at least one τ at most some κ",
            message: `grid: no relaxedThreshold (τ ${grid.relaxedThreshold.join(", ")}) is at most an anchorThreshold (κ ${grid.anchorThreshold.join(", ")}), so localleap has nothing to run`,
        }]);
    }
    return {
        prompts: parsed.prompts as CalibrationPrompt[],
        strategies,
        budget: parsed.budget,
        metric: parsed.metric,
        grid,
        settings,
        genLength: shape.genLength,
        blockLength: shape.blockLength,
        ...(parsed.cache !== undefined && { cache: parsed.cache }),
        batchSize: parsed.batchSize,
        raw: parsed.raw,
        ...(parsed.checkAnswer !== undefined && { checkAnswer: parsed.checkAnswer }),
        ...(parsed.signal !== undefined && { signal: parsed.signal }),
        ...(parsed.onProgress !== undefined && { onProgress: parsed.onProgress }),
    };
}

/** The metric a prompt set is scored by; PromptSetError when "accuracy" (or "auto") lacks answers. */
function resolveMetric(o: ResolvedCalibrateOptions): "accuracy" | "agreement" {
    const name = (p: CalibrationPrompt, i: number) => (p.line !== undefined ? `line ${p.line}` : `prompt ${i + 1}`);
    const lineOf = (p: CalibrationPrompt, i: number) => p.line ?? i + 1;
    const missing = o.prompts.findIndex((p) => p.answer === undefined);
    const anyAnswer = o.prompts.some((p) => p.answer !== undefined);
    if (o.metric === "auto" && missing >= 0 && anyAnswer) {
        const p = o.prompts[missing] as CalibrationPrompt;
        throw new PromptSetError(`${name(p, missing)} has no answer while other prompts have one: give every prompt an answer (metric accuracy) or none (agreement)`, {
            line: lineOf(p, missing), hint: 'add the missing answers, or pass metric "agreement" (--metric agreement) to ignore them',
        });
    }
    const metric = o.metric === "auto" ? (missing === -1 ? "accuracy" : "agreement") : o.metric;
    if (metric === "accuracy") {
        if (missing >= 0) {
            const p = o.prompts[missing] as CalibrationPrompt;
            throw new PromptSetError(`${name(p, missing)} has no answer, which metric "accuracy" needs`, { line: lineOf(p, missing), hint: 'add "answer" to every line, or use metric "agreement" (no labels needed)' });
        }
        if (o.checkAnswer === undefined) {
            const bad = o.prompts.findIndex((p) => parseIntegerAnswer(p.answer as string) === null);
            if (bad >= 0) {
                const p = o.prompts[bad] as CalibrationPrompt;
                throw new PromptSetError(`${name(p, bad)}: answer ${JSON.stringify(p.answer)} is not an integer, which the default answer checker needs`, {
                    line: lineOf(p, bad), hint: "give integer answers, or pass checkAnswer (API) for another kind of answer",
                });
            }
        }
    }
    return metric;
}

/**
 * Calibrates a model's decoding parameters on a prompt set: decodes every prompt with the
 * one-token baseline (low-confidence, steps = genLength) and with every setting of the grid,
 * scores each (accuracy against the answers, or agreement with the baseline's text), and picks,
 * per strategy, the setting with the fewest mean steps whose quality loss stays within the budget
 * (docs/api.md "Calibration"). Nothing is written: pass the report's decodingDefaults to
 * writeDecodingDefaults() for that. Rejects with InvalidOptionsError, PromptSetError,
 * AbortError, or what generate() rejects with.
 */
export async function calibrate(model: Model, options: CalibrateOptions): Promise<CalibrationReport> {
    const started = performance.now();
    const o = parseCalibrateOptions(options);
    const metric = resolveMetric(o);
    const cache = o.cache ?? model.info.defaultCache;
    const check = o.checkAnswer ?? checkFinalAnswer;
    const n = o.prompts.length;
    const total = n * (o.settings.length + 1);
    let done = 0;
    const inputs = o.prompts.map((p) => p.prompt as string | ChatMessage[]);

    const decode = async (settingIndex: number, label: string, strategyOptions: Record<string, unknown>) => {
        const texts: string[] = [];
        let steps = 0;
        for (let start = 0; start < n; start += o.batchSize) {
            if (o.signal?.aborted) throw new AbortError("calibration was aborted");
            const batch = inputs.slice(start, start + o.batchSize);
            const results = await model.generate(batch, {
                genLength: o.genLength, blockLength: o.blockLength, cache, raw: o.raw, ...strategyOptions, ...(o.signal !== undefined && { signal: o.signal }),
            } as GenerateOptions);
            for (const r of results) {
                texts.push(r.text);
                steps += r.steps;
            }
            done += batch.length;
            o.onProgress?.({ done, total, setting: label, settingIndex, settings: o.settings.length });
        }
        return { texts, steps };
    };

    const baseline = await decode(0, "baseline low-confidence", { strategy: "low-confidence", steps: o.genLength });
    const score = (texts: string[]) =>
        texts.filter((text, i) => (metric === "accuracy" ? check(text, o.prompts[i]?.answer as string) : text === baseline.texts[i])).length;
    const baseCorrect = score(baseline.texts);
    const baseQuality = (100 * baseCorrect) / n;

    const points: CalibrationPoint[] = [];
    for (const [i, setting] of o.settings.entries()) {
        const label = settingLabel(setting);
        const run = await decode(i + 1, label, settingOptions(setting));
        const correct = score(run.texts);
        const quality = (100 * correct) / n;
        points.push({
            setting, label, quality, correct, loss: qualityLoss(baseQuality, quality), meanSteps: run.steps / n, totalSteps: run.steps,
            withinBudget: withinBudget(baseQuality, quality, o.budget),
        });
    }

    const picks: Partial<Record<CalibratedStrategy, CalibrationPoint | null>> = {};
    const previous = model.info.decodingDefaults ?? {};
    const defaults: DecodingDefaults = {
        ...(previous.localleap !== undefined && { localleap: previous.localleap }),
        ...(previous.threshold !== undefined && { threshold: previous.threshold }),
    };
    for (const strategy of o.strategies) {
        const own = points.filter((p) => p.setting.strategy === strategy);
        const index = selectSetting(own, baseQuality, o.budget);
        const pick = index === null ? null : (own[index] as CalibrationPoint);
        picks[strategy] = pick;
        if (pick === null) continue;
        const s = pick.setting;
        if (s.strategy === "localleap") defaults.localleap = { anchorThreshold: s.anchorThreshold, relaxedThreshold: s.relaxedThreshold, radius: s.radius };
        else defaults.threshold = { threshold: s.threshold };
    }
    const summary = (p: CalibrationPoint | null | undefined) => (p == null ? null : { quality: p.quality, meanSteps: p.meanSteps, loss: p.loss });
    defaults.calibration = {
        date: new Date().toISOString(),
        prompts: n,
        metric,
        budget: o.budget,
        tool: `localleap ${packageVersion()}`,
        genLength: o.genLength,
        blockLength: o.blockLength,
        cache,
        baseline: { strategy: "low-confidence", steps: o.genLength, quality: baseQuality, meanSteps: baseline.steps / n },
        picks: Object.fromEntries(o.strategies.map((s) => [s, summary(picks[s])])),
        settings: o.settings.length,
    };
    return {
        metric,
        budget: o.budget,
        prompts: n,
        genLength: o.genLength,
        blockLength: o.blockLength,
        cache,
        baseline: { quality: baseQuality, correct: baseCorrect, meanSteps: baseline.steps / n, totalSteps: baseline.steps },
        points,
        picks,
        decodingDefaults: defaults,
        elapsedMs: performance.now() - started,
    };
}
