// A real calibration on the random-weight LLaDA fixture with a tiny grid: the pick is predicted
// here from generate() runs made one prompt at a time (not batched, not through selectSetting),
// then written into a temporary archive with writeDecodingDefaults, reloaded and used. The CLI:
// --help, a --json run with --write, and bad input with its codes.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import {
    calibrate, type CalibrationPrompt, type CalibrationReport, type GenerateOptions, loadModel, type Model, writeDecodingDefaults,
} from "../../lib";
import { rewriteArchiveMetadata } from "../../lib/archive/rewriteMetadata";
import { ensureBuilt } from "../support/buildDist";
import { LLADA_FIXTURE } from "../support/fixtures";
import { runCli } from "../support/runCli";

const SHAPE = { genLength: 16, blockLength: 8, cache: "none" as const };
const PROMPTS: CalibrationPrompt[] = ["Tom has 3 apples.", "The farmer plants trees.", "Mia buys 4 packs.", "Count to five."].map((prompt) => ({ prompt }));
const GRID = { anchorThreshold: [0, 0.9], relaxedThreshold: [0, 0.5], radius: [1, 4], threshold: [0, 0.3, 0.9] };

let dir = "";
let model: Model;
beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "localleap-calibrate-"));
    model = await loadModel({ modelPath: LLADA_FIXTURE, device: "cpu" });
});
afterAll(async () => {
    await model?.dispose();
    rmSync(dir, { recursive: true, force: true });
});

/** Agreement (%) with the baseline's texts and mean steps of one setting, prompt by prompt. */
async function byHand(options: GenerateOptions, baseline: string[] | null): Promise<{ texts: string[]; quality: number; meanSteps: number }> {
    const texts: string[] = [];
    let steps = 0;
    for (const p of PROMPTS) {
        const r = await model.generate(p.prompt as string, { ...SHAPE, ...options } as GenerateOptions);
        texts.push(r.text);
        steps += r.steps;
    }
    const agree = baseline === null ? PROMPTS.length : texts.filter((t, i) => t === baseline[i]).length;
    return { texts, quality: (100 * agree) / PROMPTS.length, meanSteps: steps / PROMPTS.length };
}

describe("calibrate() on the fixture", () => {
    let report: CalibrationReport;
    const budget = 25;

    test("picks, per strategy, what a hand computation predicts", async () => {
        const progress: number[] = [];
        report = await calibrate(model, { prompts: PROMPTS, metric: "agreement", budget, grid: GRID, batchSize: 3, ...SHAPE, onProgress: (p) => progress.push(p.done) });
        const baseline = await byHand({ strategy: "low-confidence", steps: 16 }, null);
        expect(report.baseline).toMatchObject({ quality: 100, meanSteps: baseline.meanSteps });
        expect(baseline.meanSteps).toBe(16);
        // The settings: localleap (κ 0, τ 0), (κ 0.9, τ 0, W 1 and 4), (κ 0.9, τ 0.5, W 1 and 4); θ 0, 0.3, 0.9.
        const settings: GenerateOptions[] = [
            { strategy: "localleap", anchorThreshold: 0, relaxedThreshold: 0, radius: 1 },
            { strategy: "localleap", anchorThreshold: 0.9, relaxedThreshold: 0, radius: 1 },
            { strategy: "localleap", anchorThreshold: 0.9, relaxedThreshold: 0, radius: 4 },
            { strategy: "localleap", anchorThreshold: 0.9, relaxedThreshold: 0.5, radius: 1 },
            { strategy: "localleap", anchorThreshold: 0.9, relaxedThreshold: 0.5, radius: 4 },
            { strategy: "threshold", threshold: 0 },
            { strategy: "threshold", threshold: 0.3 },
            { strategy: "threshold", threshold: 0.9 },
        ];
        const hand = [];
        for (const options of settings) hand.push({ options, ...(await byHand(options, baseline.texts)) });
        expect(report.points.map((p) => [p.quality, p.meanSteps])).toEqual(hand.map((h) => [h.quality, h.meanSteps]));
        for (const strategy of ["localleap", "threshold"] as const) {
            // Fewest steps within the budget, then higher quality, then grid order: a stable sort.
            const ok = hand.filter((h) => h.options.strategy === strategy && 100 - h.quality <= budget);
            ok.sort((a, b) => a.meanSteps - b.meanSteps || b.quality - a.quality);
            const expected = ok[0]?.options ?? null;
            const pick = report.picks[strategy];
            expect(pick === null ? null : { strategy, ...pick?.setting }).toEqual(expected === null ? null : { ...expected });
        }
        expect(progress.at(-1)).toBe(PROMPTS.length * 9);
        expect(report.decodingDefaults.calibration).toMatchObject({ prompts: 4, metric: "agreement", budget, genLength: 16, blockLength: 8, cache: "none" });
    });

    test("a forced case: budget 100 takes θ 0 and κ = τ = 0, one step per block", async () => {
        const forced = await calibrate(model, { prompts: PROMPTS.slice(0, 2), budget: 100, grid: GRID, ...SHAPE });
        expect(forced.metric).toBe("agreement");
        expect(forced.picks.threshold?.setting).toEqual({ strategy: "threshold", threshold: 0 });
        expect(forced.picks.localleap?.setting).toEqual({ strategy: "localleap", anchorThreshold: 0, relaxedThreshold: 0, radius: 1 });
        expect(forced.picks.threshold?.meanSteps).toBe(2);
        expect(forced.decodingDefaults).toMatchObject({ localleap: { anchorThreshold: 0, relaxedThreshold: 0, radius: 1 }, threshold: { threshold: 0 } });

        // Written into a copy, reloaded: info shows them, generate() uses them, explicit options win.
        const out = path.join(dir, "forced.pt");
        const written = await writeDecodingDefaults(LLADA_FIXTURE, forced.decodingDefaults, { out });
        expect(written.path).toBe(out);
        expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
        const calibrated = await loadModel({ modelPath: out, device: "cpu" });
        try {
            expect(calibrated.info.decodingDefaults).toEqual(forced.decodingDefaults);
            const plain = await calibrated.generate("Tom has 3 apples.", { ...SHAPE, strategy: "threshold" });
            expect(plain.steps).toBe(2);
            expect(plain).toMatchObject({ text: (await model.generate("Tom has 3 apples.", { ...SHAPE, strategy: "threshold", threshold: 0 })).text });
            expect((await calibrated.generate("Tom has 3 apples.", SHAPE)).steps).toBe(2);
            const explicit = await calibrated.generate("Tom has 3 apples.", { ...SHAPE, strategy: "threshold", threshold: 0.9 });
            const original = await model.generate("Tom has 3 apples.", { ...SHAPE, strategy: "threshold", threshold: 0.9 });
            expect([explicit.text, explicit.steps]).toEqual([original.text, original.steps]);
            expect(original.steps).toBeGreaterThan(2);
            // Every other record is the same: the text of a built-in-default decode agrees too.
            const kept = await calibrated.generate("Count", { ...SHAPE, strategy: "low-confidence" });
            expect(kept.text).toBe((await model.generate("Count", { ...SHAPE, strategy: "low-confidence" })).text);
        } finally {
            await calibrated.dispose();
        }
    });

    test("the archive rewrite is atomic: a failed check leaves no file; the source is never overwritten unless inPlace", async () => {
        const out = path.join(dir, "never.pt");
        await expect(rewriteArchiveMetadata(LLADA_FIXTURE, out, (raw) => ({ ...raw, decodingDefaults: {} }), { verify: async () => { throw new Error("no"); } }))
            .rejects.toMatchObject({ code: "ARCHIVE_WRITE_FAILED" });
        expect(existsSync(out)).toBe(false);
        expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
        await expect(writeDecodingDefaults(LLADA_FIXTURE, {}, { out: LLADA_FIXTURE })).rejects.toMatchObject({ code: "INVALID_OPTIONS" });
        await expect(writeDecodingDefaults(LLADA_FIXTURE, { threshold: { threshold: 2 } }, { out })).rejects.toMatchObject({ code: "MODEL_METADATA_INVALID" });
        // In place, on a copy of the fixture.
        const copy = path.join(dir, "copy.pt");
        await writeDecodingDefaults(LLADA_FIXTURE, {}, { out: copy, verifyLoad: false });
        await writeDecodingDefaults(copy, { threshold: { threshold: 0.5 } }, { inPlace: true });
        const reloaded = await loadModel({ modelPath: copy, device: "cpu" });
        expect(reloaded.info.decodingDefaults).toEqual({ threshold: { threshold: 0.5 } });
        await reloaded.dispose();
    });
});

const cli = (args: string[]) => runCli(args);

describe("localleap calibrate", () => {
    let prompts = "";
    beforeAll(() => {
        ensureBuilt("tsconfig.json", "dist/lib/cli/cli.js", ["lib"]);
        prompts = path.join(dir, "prompts.jsonl");
        writeFileSync(prompts, PROMPTS.slice(0, 2).map((p) => JSON.stringify(p)).join("\n"));
    });
    const FIXTURE = ["-m", LLADA_FIXTURE, "--device", "cpu", "--gen-length", "16", "--block-length", "8", "--cache", "none"];
    const TINY = ["--anchor-thresholds", "0,0.9", "--relaxed-thresholds", "0", "--radii", "1", "--thresholds", "0,0.9"];

    test("--help lists the flags", async () => {
        const run = await cli(["calibrate", "--help"]);
        expect(run.code).toBe(0);
        for (const flag of ["--prompts", "--budget", "--metric", "--strategies", "--anchor-thresholds", "--thresholds", "--write", "--out", "--in-place", "--plot", "--json"]) expect(run.stdout).toContain(flag);
    });

    test("--json --write --out: the report, the archive written, and localleap info shows the defaults", async () => {
        const out = path.join(dir, "cli.pt");
        const plot = path.join(dir, "cli.svg");
        const run = await cli(["calibrate", "-p", prompts, ...FIXTURE, ...TINY, "--budget", "100", "--json", "--write", "--out", out, "--plot", plot]);
        expect(run.code).toBe(0);
        const report = JSON.parse(run.stdout) as CalibrationReport & { written: string };
        expect(report.written).toBe(out);
        expect(report.points).toHaveLength(4);
        expect(report.decodingDefaults).toMatchObject({ threshold: { threshold: 0 }, localleap: { anchorThreshold: 0, relaxedThreshold: 0, radius: 1 } });
        expect(existsSync(plot)).toBe(true);
        const info = await cli(["info", "--json", "-m", out, "--device", "cpu"]);
        expect(JSON.parse(info.stdout).model.decodingDefaults).toEqual(report.decodingDefaults);
        const text = await cli(["info", "-m", out, "--device", "cpu"]);
        expect(text.stdout).toMatch(/decoding defaults: localleap κ 0 τ 0 W 1, threshold θ 0; other fields built-in \(calibrated \d{4}-\d\d-\d\d on 2 prompts, agreement, budget 100 points\)/);
    });

    test("text output: the table, the picks, and what --write would write", async () => {
        const run = await cli(["calibrate", "-p", prompts, ...FIXTURE, ...TINY, "--strategies", "threshold"]);
        expect(run.code).toBe(0);
        expect(run.stdout).toMatch(/^\| strategy \| κ \| τ \| W \| θ \| agreement \(%\) \|/);
        expect(run.stdout).toContain("decodingDefaults that --write would store");
        expect(run.stderr).toContain("[1/2] threshold θ 0");
    });

    test.each([
        ["a malformed JSONL line", ["--prompts", "BAD"], "PROMPT_SET_INVALID", /bad\.jsonl:2: not valid JSON/],
        ["an unknown strategy", ["--strategies", "localleap,random"], "INVALID_OPTIONS", /strategies\.1: got "random"/],
        ["a budget out of range", ["--budget", "150"], "INVALID_OPTIONS", /budget: got 150; allowed: a number of points from 0 to 100/],
        ["--write without --out", ["--write"], "INVALID_OPTIONS", /--write needs --out/],
        ["--write --out the input", ["--write", "--out", LLADA_FIXTURE], "INVALID_OPTIONS", /--in-place/],
        ["a missing prompt file", ["--prompts", "/nowhere.jsonl"], "PROMPT_SET_INVALID", /cannot read/],
    ])("%s: exit 1, a typed error with its code", async (_, extra, code, message) => {
        const bad = path.join(dir, "bad.jsonl");
        writeFileSync(bad, '{"prompt": "ok"}\n{"prompt": ');
        const args = ["calibrate", "-p", prompts, ...FIXTURE, ...TINY, "--json", ...extra.map((a) => (a === "BAD" ? bad : a))];
        const run = await cli(args);
        expect(run.code).toBe(1);
        const error = (JSON.parse(run.stdout) as { error: { code: string; message: string } }).error;
        expect(error.code).toBe(code);
        expect(error.message).toMatch(message);
    });
});
