import { writeFile } from "node:fs/promises";
import path from "node:path";
import { Command, Option } from "commander";
import { Presets, SingleBar } from "cli-progress";
import { type CalibrateOptions, type CalibrationProgress, type CalibrationReport, calibrate, parseCalibrateOptions } from "../../calibrate/calibrate";
import { CALIBRATED_STRATEGIES } from "../../calibrate/grid";
import { readPromptSet } from "../../calibrate/promptSet";
import { calibrationPlot, calibrationSummary, calibrationTable } from "../../calibrate/report";
import { writeDecodingDefaults } from "../../calibrate/writeDecodingDefaults";
import { InvalidOptionsError } from "../../errors";
import { loadModel } from "../../loadModel";
import type { Model } from "../../model";
import { CACHE_MODES } from "../../options";
import type { DeviceOption } from "../../types";
import { withJsonErrors } from "../utils/errorJson";
import { createLoadProgress } from "../utils/createLoadProgress";
import { defined, loadOptionsFromFlags, type ModelAndGenerateFlags, addModelFlags } from "../utils/generateFlags";
import { parseNumberFlag } from "../utils/parseNumberFlag";

interface CalibrateFlags extends ModelAndGenerateFlags {
    prompts?: string;
    genLength?: number | string;
    blockLength?: number | string;
    cache?: string;
    strategies?: string;
    budget?: number | string;
    metric?: string;
    anchorThresholds?: string;
    relaxedThresholds?: string;
    radii?: string;
    thresholds?: string;
    batchSize?: number | string;
    limit?: number | string;
    raw?: boolean;
    table?: string;
    plot?: string;
    write?: boolean;
    out?: string;
    inPlace?: boolean;
    json?: boolean;
}

/**
 * `localleap calibrate --prompts FILE.jsonl`: sweeps each strategy's parameters on a prompt set,
 * prints the table and each strategy's pick (the fewest mean steps within the quality budget),
 * and with --write stores the picks as the model's decoding defaults in a new archive (--out) or
 * in place (--in-place). Progress goes to stderr; --json prints the report as one document.
 */
export function calibrateCommand(): Command {
    const command = new Command("calibrate")
        .description("pick per-strategy decoding defaults on a prompt set: the fewest steps within a quality budget; --write stores them in the archive");
    command.requiredOption("-p, --prompts <file>", 'JSONL prompt set: {"prompt" (or "question"): text or chat messages, "answer"?: reference} per line');
    addModelFlags(command);
    return command
        .addOption(new Option("--gen-length <n>", "tokens to generate per prompt (default 128)").argParser(parseNumberFlag))
        .addOption(new Option("--block-length <n>", "block length, divides gen-length (default 32)").argParser(parseNumberFlag))
        .option("--cache <mode>", `KV cache: ${CACHE_MODES.join(", ")} (default: the model's)`)
        .option("--strategies <list>", `strategies to sweep, comma-separated: ${CALIBRATED_STRATEGIES.join(", ")} (default both)`)
        .addOption(new Option("--budget <points>", "most quality loss against the one-token baseline, in points (default 1)").argParser(parseNumberFlag))
        .option("--metric <name>", "accuracy (answers needed), agreement (with the baseline's text, no labels) or auto (default)")
        .option("--anchor-thresholds <list>", "κ values to sweep (default 0.5,0.6,0.7,0.8,0.9,0.95)")
        .option("--relaxed-thresholds <list>", "τ values to sweep, τ <= κ (default 0.5,0.6,0.7,0.8,0.9)")
        .option("--radii <list>", "W values to sweep (default 1,2,4,8)")
        .option("--thresholds <list>", "θ values to sweep (default 0.5,0.6,0.7,0.8,0.9,0.95)")
        .addOption(new Option("--batch-size <n>", "prompts per generate call (default 16)").argParser(parseNumberFlag))
        .addOption(new Option("--limit <n>", "use the first n prompts only").argParser(parseNumberFlag))
        .option("--raw", "send string prompts as plain text, without the chat template")
        .option("--table <file>", "also write the markdown table to this file")
        .option("--plot <file>", "write an SVG plot of quality against mean steps")
        .option("--write", "write the picks into a model archive as its decodingDefaults (needs --out or --in-place)")
        .option("--out <file>", "with --write: the new archive (the input is never overwritten without --in-place)")
        .option("--in-place", "with --write: replace the input archive (atomically)")
        .option("--json", "print the report (or the error) as one JSON document")
        .addHelpText("after", [
            "",
            "Quality is accuracy when every prompt has an answer (the last \"#### N\", \"answer is N\" or \"Answer: N\" of the",
            "text must equal it), else agreement: exact match with the text of the one-token baseline (low-confidence,",
            "steps = gen-length). Per strategy the pick is the setting with the fewest mean steps whose loss stays within",
            "the budget; when none does, the model's previous default is kept. Without --write nothing is written.",
            "",
            "Example:",
            "  localleap calibrate --prompts train.jsonl --limit 50 --anchor-thresholds 0.7,0.9 --radii 2,4 --thresholds 0.7,0.9 \\",
            "    --plot calibration.svg --write --out model.calibrated.pt",
        ].join("\n"))
        .action((flags: CalibrateFlags) => withJsonErrors(flags.json, false, () => runCalibrate(flags)));
}

/** "0.5, 0.7" -> [0.5, 0.7]; a piece that is not a number stays text, so validation names it. */
function numberList(text: string | undefined): (number | string)[] | undefined {
    if (text === undefined) return undefined;
    return text.split(",").map((piece) => parseNumberFlag(piece));
}

/** Whether --out names the --model archive (a folder --model means its model.pt). */
function sameArchive(out: string, model: string): boolean {
    const m = path.resolve(model);
    return path.resolve(out) === m || path.resolve(out) === path.join(m, "model.pt");
}

function writeIssue(field: string, message: string): InvalidOptionsError {
    return new InvalidOptionsError("calibrate flags", [{ field, given: "", allowed: "", message }]);
}

async function runCalibrate(flags: CalibrateFlags): Promise<void> {
    if (flags.write && flags.out === undefined && !flags.inPlace) throw writeIssue("write", "--write needs --out FILE (a new archive) or --in-place (replace the input)");
    if (!flags.write && (flags.out !== undefined || flags.inPlace)) throw writeIssue(flags.out !== undefined ? "out" : "inPlace", `--${flags.out !== undefined ? "out" : "in-place"} only applies with --write`);
    if (flags.out !== undefined && flags.inPlace) throw writeIssue("inPlace", "--out and --in-place contradict each other: drop one");
    if (flags.write && flags.out !== undefined && flags.model !== undefined && sameArchive(flags.out, flags.model)) {
        throw writeIssue("out", `--out is the input archive ${flags.model}: pass --in-place to replace it`);
    }
    if (flags.limit !== undefined && !(typeof flags.limit === "number" && Number.isInteger(flags.limit) && flags.limit >= 1)) {
        throw new InvalidOptionsError("calibrate flags", [{ field: "limit", given: String(flags.limit), allowed: "an integer >= 1", message: `--limit: got ${JSON.stringify(flags.limit)}; allowed: an integer >= 1` }]);
    }
    const all = await readPromptSet(flags.prompts as string);
    const prompts = flags.limit === undefined ? all : all.slice(0, flags.limit as number);
    const grid = defined({
        anchorThreshold: numberList(flags.anchorThresholds),
        relaxedThreshold: numberList(flags.relaxedThresholds),
        radius: numberList(flags.radii),
        threshold: numberList(flags.thresholds),
    });
    const options = defined({
        prompts,
        strategies: flags.strategies?.split(",").map((s) => s.trim()),
        budget: flags.budget,
        metric: flags.metric,
        grid: Object.keys(grid).length > 0 ? grid : undefined,
        genLength: flags.genLength,
        blockLength: flags.blockLength,
        cache: flags.cache,
        batchSize: flags.batchSize,
        raw: flags.raw,
    }) as unknown as CalibrateOptions;
    // Bad flags fail before the (slow) model load.
    const resolved = parseCalibrateOptions(options);

    const controller = new AbortController();
    const onSigint = () => controller.abort();
    process.once("SIGINT", onSigint);
    const loadBar = flags.json ? { stop: () => undefined } : createLoadProgress();
    let model: Model | undefined;
    let report: CalibrationReport;
    let modelPath: string;
    const progress = createCalibrationProgress(flags.json === true);
    try {
        model = await loadModel(loadOptionsFromFlags(flags, { signal: controller.signal, onProgress: "onProgress" in loadBar ? loadBar.onProgress : undefined }))
            .finally(() => loadBar.stop());
        modelPath = model.info.path;
        if (!flags.json) {
            process.stderr.write(`calibrating ${model.info.metadata.name} on ${model.info.device}: ${prompts.length} prompts x (${resolved.settings.length} settings + baseline), gen ${resolved.genLength}, block ${resolved.blockLength}\n`);
        }
        report = await calibrate(model, { ...options, signal: controller.signal, onProgress: progress.update });
    } finally {
        progress.stop();
        process.removeListener("SIGINT", onSigint);
        await model?.dispose().catch(() => undefined);
    }

    const table = calibrationTable(report);
    if (flags.table !== undefined) await writeFile(flags.table, table);
    if (flags.plot !== undefined) await writeFile(flags.plot, calibrationPlot(report));
    let written: string | null = null;
    if (flags.write) {
        const device = flags.device as DeviceOption | undefined;
        const result = await writeDecodingDefaults(modelPath, report.decodingDefaults, {
            ...(flags.out !== undefined && { out: flags.out }),
            ...(flags.inPlace && { inPlace: true }),
            ...(device !== undefined && { device }),
        });
        written = result.path;
    }

    if (flags.json) {
        process.stdout.write(`${JSON.stringify({ ...report, model: modelPath, written }, null, 2)}\n`);
        return;
    }
    const seconds = (report.elapsedMs / 1000).toFixed(1);
    const lines = [
        table,
        `${report.metric} on ${report.prompts} prompts, budget ${report.budget} point(s), ${seconds} s:`,
        ...calibrationSummary(report).map((line) => `  ${line}`),
        "",
        written !== null
            ? `wrote decodingDefaults into ${written}:`
            : `decodingDefaults that --write would store in ${flags.inPlace ? modelPath : "a copy of " + path.basename(modelPath)} (pass --write --out FILE or --write --in-place):`,
        JSON.stringify(report.decodingDefaults, null, 2),
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
}

/** A bar over every decode on a terminal; elsewhere a line on stderr per setting started (nothing with --json). */
function createCalibrationProgress(quiet: boolean): { update: (p: CalibrationProgress) => void; stop: () => void } {
    if (quiet) return { update: () => undefined, stop: () => undefined };
    const stream = process.stderr;
    if (!stream.isTTY) {
        let last = -1;
        return {
            update: (p) => {
                if (p.settingIndex === last) return;
                last = p.settingIndex;
                stream.write(`[${p.settingIndex}/${p.settings}] ${p.setting}\n`);
            },
            stop: () => undefined,
        };
    }
    let bar: SingleBar | undefined;
    return {
        update: (p) => {
            if (bar === undefined) {
                bar = new SingleBar({ stream, format: "calibrating [{bar}] {percentage}% {value}/{total} decodes | {setting} | ETA {eta_formatted}", hideCursor: true, clearOnComplete: true }, Presets.shades_classic);
                bar.start(p.total, 0, { setting: p.setting });
            }
            bar.update(p.done, { setting: p.setting });
        },
        stop: () => bar?.stop(),
    };
}
