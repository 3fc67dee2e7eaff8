// The accuracy-and-speed benchmark of issue 7: held-out accuracy, steps, TPF, tokens/s, ms/step
// and AUP of every configuration (bench/accuracy/configs.ts) on the reference model, optionally the
// κ / τ / W sweep; writes bench.json, bench.md and SVG plots.
//   node dist/bench/run.js [--device cpu|cuda] [--problems N] [--batch B] [--gen 128,256] [--sweep]
//                          [--out DIR] [--model FILE.pt] [--sweep-problems N] [--budget-s S]
//                          [--cache none,prefix,dual] [--decoders] [--resume OLD/bench.json] ...
// `npm run bench` runs it on the CPU with the defaults below; runBenchmark() is the same for a CLI.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, hostname, loadavg } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { loadModel } from "../lib/loadModel";
import type { Model } from "../lib/model";
import type { DeviceOption } from "../lib/types";
import { packageRoot } from "../lib/utils/packageRoot";
import { answerTextFor } from "./accuracy/answerText";
import { apdConfigs, baseName, type BenchConfig, cacheVariants, decoderConfigs, mainConfigs, modelDefaultConfigs, sweepConfigs } from "./accuracy/configs";
import { accuracyVsStepsSvg, sweepSvg, tokensPerSecondSvg } from "./accuracy/plots";
import { defaultProblemsPath, loadProblems, type Problem } from "./accuracy/problems";
import { createProgress, type Progress } from "./accuracy/progress";
import { type BenchMeta, type BenchReport, type BenchSection, reportMarkdown } from "./accuracy/report";
import { readBenchJson, resumableRows } from "./accuracy/resume";
import { runConfig } from "./accuracy/runner";
import { aupByFamily, type ConfigSummary, summarize } from "./accuracy/summarize";
import { problemMessages } from "./accuracy/prompt";
import { type CacheMode, parseCacheModes } from "./cacheTypes";

/**
 * Problems scored on the CPU by default. With gen lengths 128 and 256 and every configuration a
 * problem costs about 900 forward passes, 70 to 100 s on the 2-core development container, so
 * `npm run bench` (set-up and compile included) stays under 10 minutes. Five problems make a smoke
 * test of the pipeline and a speed figure, not an accuracy estimate: the accuracy needs --problems
 * 2000 (the GPU run).
 */
export const CPU_DEFAULT_PROBLEMS = 5;
/**
 * Batch sizes by default: 1 on the CPU (measured on 2 cores: 4 rows per forward cost about 4 times
 * one row, and a batch waits for its slowest row, so batching only slows the adaptive rules), 1000
 * on CUDA (2 batches of the 2000 problems).
 */
export const DEFAULT_BATCH = { cpu: 1, cuda: 1000 } as const;

export interface BenchmarkOptions {
    /** Where to run (default "cpu"). */
    device?: DeviceOption;
    /** The model archive (default: models/reference/model.pt). */
    modelPath?: string;
    /** Tokenizer folder used to score answers exactly as Python does (default: models/reference). */
    tokenizerPath?: string;
    /** heldout.jsonl (default: bench/data/heldout.jsonl). */
    problemsFile?: string;
    /** Problems of the main table (default: CPU_DEFAULT_PROBLEMS on the CPU, all on CUDA). */
    problems?: number;
    /** Rows per generate() call (default: DEFAULT_BATCH). */
    batch?: number;
    /** Gen lengths of the main table (default [128, 256]). */
    genLengths?: number[];
    /** Only these configurations of the main table, by name, with or without a cache suffix (default: all). */
    configs?: string[];
    /**
     * Run every configuration of the main table once per KV cache mode (issue 12), passing
     * generate() the `cache` option; "none" keeps the configurations' usual names, prefix and dual
     * add "-prefix" / "-dual". Default: no `cache` option at all (the engine's default). The sweep
     * does not take it.
     */
    caches?: CacheMode[];
    /**
     * Add the model's decoding defaults to the main table (threshold-<gen>-defaults,
     * localleap-<gen>-defaults: the strategy alone, so generate() takes the archive's
     * decodingDefaults; a calibrated archive's picks scored on the benchmark's problems).
     */
    modelDefaults?: boolean;
    /** A causal LM (kind causal) loaded beside the model (loadModel's apd.arModelPath): needed by --apd. */
    arModelPath?: string;
    /** Add APD (apdConfigs) to the main table; needs arModelPath. */
    apd?: boolean;
    /** Add the further decoders (decoderConfigs: endOfText, adaptive blocks, the learned filter) to the main table. */
    decoders?: boolean;
    /** Run the κ / τ / W sweep too. */
    sweep?: boolean;
    /** Run the sweep alone (no main table). */
    sweepOnly?: boolean;
    /** Problems of the sweep (default: those of the main table). */
    sweepProblems?: number;
    /** Gen length of the sweep (default 256). */
    sweepGenLength?: number;
    /** Output folder (default bench/results/<date>-<device>). */
    out?: string;
    /** Skip configurations that would start after this many seconds (0: no budget). */
    budgetSeconds?: number;
    /** Intra-op threads (0: libtorch's default). */
    threads?: number;
    /** Show the progress bar (default true). */
    progress?: boolean;
    /** The command line recorded in the outputs. */
    command?: string;
    /** An earlier bench.json of the same measurement: its finished rows are kept, not run again. */
    resume?: string;
    /** Command line only: rewrite bench.md and the plots of this bench.json instead of running. */
    replot?: string;
}

/** Runs the benchmark, writes its outputs after every configuration, and resolves to the report. */
export async function runBenchmark(options: BenchmarkOptions = {}): Promise<BenchReport> {
    const t0 = performance.now();
    const root = packageRoot();
    const problemsFile = options.problemsFile ?? defaultProblemsPath();
    const model = await loadModel({
        device: options.device ?? "cpu",
        threads: options.threads ?? 0,
        ...(options.modelPath !== undefined && { modelPath: options.modelPath }),
        ...(options.arModelPath !== undefined && { apd: { arModelPath: options.arModelPath } }),
    });
    try {
        const device = model.info.device;
        const count = options.problems ?? (device === "cpu" ? CPU_DEFAULT_PROBLEMS : undefined);
        const problems = loadProblems(problemsFile, count);
        if (problems.length === 0) throw new Error(`no problems in ${problemsFile}`);
        const batch = options.batch ?? DEFAULT_BATCH[device];
        const gens = options.genLengths ?? [128, 256];
        const only = options.configs === undefined ? null : new Set(options.configs);
        const pick = (list: BenchConfig[]) => list.filter((c) => only === null || only.has(c.name) || only.has(baseName(c)));
        const mainConfigsAll = gens.flatMap((g) => [...mainConfigs(g), ...(options.modelDefaults ? modelDefaultConfigs(g) : []), ...(options.decoders ? decoderConfigs(g) : []), ...(options.apd ? apdConfigs(g) : [])]);
        const mainList = options.sweepOnly ? [] : pick(options.caches === undefined ? mainConfigsAll : cacheVariants(mainConfigsAll, options.caches));
        const sweepGen = options.sweepGenLength ?? 256;
        const sweep = options.sweep === true || options.sweepOnly === true;
        const sweepProblems = sweep ? problems.slice(0, options.sweepProblems ?? problems.length) : [];
        if (sweep && options.sweepProblems !== undefined && options.sweepProblems > problems.length) {
            sweepProblems.push(...loadProblems(problemsFile, options.sweepProblems).slice(problems.length));
        }
        const sweepList = sweep ? sweepConfigs(sweepGen) : [];
        const out = options.out ?? path.join(root, "bench", "results", `${new Date().toISOString().slice(0, 10)}-${device}`);
        mkdirSync(out, { recursive: true });
        const answerText = await answerTextFor(options.tokenizerPath ?? path.join(root, "models", "reference"));

        const meta = describe(model, { problemsFile, problems, batch, threads: options.threads ?? 0, command: options.command ?? "runBenchmark()" });
        const report: BenchReport = { meta, main: emptySection(problems.length), seconds: 0 };
        let mainToRun = mainList;
        if (options.resume !== undefined) {
            const resumed = resumableRows(options.resume, meta, mainList.map((c) => c.name));
            meta.resumedFrom = resumed.from;
            report.main.configs.push(...resumed.rows);
            report.main.aup = aupByFamily(report.main.configs);
            mainToRun = mainList.filter((c) => !resumed.from.rows.includes(c.name));
        }
        if (sweep) {
            report.sweep = {
                ...emptySection(sweepProblems.length),
                genLength: sweepGen,
                note:
                    `The sweep runs on the first ${sweepProblems.length} problems` +
                    (sweepProblems.length < problems.length ? " (a subset, for time)" : "") +
                    `, gen length ${sweepGen}, batch ${batch}; κ, τ, W vary one at a time around the paper's defaults (κ 0.9, τ 0.75, W 4; τ capped at κ), ` +
                    "θ is the threshold rule's; lc-" + sweepGen + " is the one-token baseline on the same problems.",
            };
        }

        // Warm-up (not measured): libraries, allocator, kernels.
        await model.generate(problemMessages((problems[0] as Problem).question), { genLength: 32, strategy: "low-confidence" });

        const total = mainToRun.length * problems.length + sweepList.length * sweepProblems.length;
        const progress = createProgress(total, options.progress ?? true);
        const write = () => {
            report.seconds = (performance.now() - t0) / 1000;
            report.meta.host.loadAverageAtEnd = loadavg();
            writeOutputs(out, report);
        };
        const budget = options.budgetSeconds ?? 0;
        try {
            await runSection(model, mainToRun, problems, report.main, { batch, answerText, progress, budget, t0, write });
            if (report.sweep) await runSection(model, sweepList, sweepProblems, report.sweep, { batch, answerText, progress, budget, t0, write });
        } finally {
            progress.stop();
        }
        write();
        console.error(`wrote ${out}/bench.json, bench.md and the plots (${report.seconds.toFixed(0)} s)`);
        return report;
    } finally {
        await model.dispose();
    }
}

function emptySection(problems: number): BenchSection {
    return { problems, configs: [], aup: [], skipped: [] };
}

async function runSection(
    model: Model,
    configs: BenchConfig[],
    problems: Problem[],
    section: BenchSection,
    ctx: { batch: number; answerText: Awaited<ReturnType<typeof answerTextFor>>; progress: Progress; budget: number; t0: number; write: () => void },
): Promise<void> {
    for (const config of configs) {
        if (ctx.budget > 0 && (performance.now() - ctx.t0) / 1000 > ctx.budget) {
            section.skipped.push(config.name);
            ctx.progress.log(`${config.name}: skipped (time budget of ${ctx.budget} s spent)`);
            continue;
        }
        ctx.progress.start(config.name, problems.length);
        const run = await runConfig(model, config, problems, {
            batch: ctx.batch,
            answerText: ctx.answerText,
            onRows: (rows) => ctx.progress.update(rows.length, (100 * rows.filter((r) => r.correct).length) / Math.max(1, rows.length)),
        });
        const s = summarize(run);
        section.configs.push(s);
        section.aup = aupByFamily(section.configs);
        ctx.progress.log(line(s));
        ctx.write();
    }
}

function line(s: ConfigSummary): string {
    return (
        `${s.name}: accuracy ${s.accuracy.toFixed(1)}%, mean steps ${s.meanSteps.toFixed(1)} (${s.stepsPct.toFixed(1)}%), TPF ${s.tpf.toFixed(2)}, ` +
        `${s.tokensPerSecond.toFixed(1)} tokens/s, ${s.msPerStep.toFixed(2)} ms/step, ${s.wallSeconds.toFixed(1)} s`
    );
}

function describe(model: Model, o: { problemsFile: string; problems: Problem[]; batch: number; threads: number; command: string }): BenchMeta {
    const info = model.info;
    const cpuList = cpus();
    return {
        date: new Date().toISOString(),
        command: o.command,
        model: { name: info.metadata.name, path: info.path, dtype: info.dtype, device: info.device, parameterBytes: info.parameterBytes, decodingDefaults: info.decodingDefaults },
        build: {
            variantName: info.build.variantName,
            torchVersion: info.build.torchVersion,
            cudaVersion: info.build.cudaVersion,
            cudaDeviceName: info.build.cudaDeviceName,
        },
        host: {
            cpus: cpuList.length,
            cpuModel: cpuList[0]?.model ?? "",
            threads: o.threads,
            node: process.version,
            platform: `${process.platform}-${process.arch}`,
            hostname: hostname(),
            loadAverageAtStart: loadavg(),
        },
        problems: {
            file: path.relative(packageRoot(), o.problemsFile) || o.problemsFile,
            count: o.problems.length,
            first: o.problems[0]?.id ?? "",
            last: o.problems[o.problems.length - 1]?.id ?? "",
        },
        batch: o.batch,
        timingNote:
            o.batch === 1
                ? "One problem per generate() call: ms/step is the engine's time per forward pass of one problem, tokens/s one problem's useful tokens per second of engine time (both summed over the problems before dividing)."
                : `Up to ${o.batch} problems per generate() call, decoded together: ms/step is the engine's time per forward pass of the whole batch, ` +
                  "tokens/s the useful tokens of all rows per second of engine time (throughput, not one request's speed). A batch runs each block until its slowest row finishes it.",
    };
}

/** Rewrites bench.md and the plots of a bench.json (into `out`, default its folder). */
export function replot(jsonFile: string, out: string = path.dirname(jsonFile)): void {
    mkdirSync(out, { recursive: true });
    writeOutputs(out, JSON.parse(readBenchJson(jsonFile)) as BenchReport);
}

function writeOutputs(out: string, report: BenchReport): void {
    writeFileSync(path.join(out, "bench.json"), JSON.stringify(report, null, 1));
    writeFileSync(path.join(out, "bench.md"), reportMarkdown(report));
    const m = report.meta;
    const where = m.model.device === "cuda" ? m.build.cudaDeviceName || "cuda" : `CPU, ${m.host.cpus} cores`;
    const problems = (n: number) => `${n} problem${n === 1 ? "" : "s"}`;
    const subtitle = `${problems(report.main.problems)}, ${where}, batch ${m.batch}`;
    if (report.main.configs.length > 0) {
        writeFileSync(path.join(out, "accuracy-vs-steps.svg"), accuracyVsStepsSvg(report.main.configs, subtitle));
        writeFileSync(path.join(out, "tokens-per-second.svg"), tokensPerSecondSvg(report.main.configs, subtitle));
    }
    if (report.sweep && report.sweep.configs.length > 0) {
        writeFileSync(path.join(out, "sweep.svg"), sweepSvg(report.sweep.configs, report.sweep.genLength, `${problems(report.sweep.problems)}, ${where}`));
    }
}

/** Parses the command line of `node dist/bench/run.js`. */
export function parseBenchArgs(argv: string[]): BenchmarkOptions {
    const { values } = parseArgs({
        args: argv,
        options: {
            device: { type: "string" },
            model: { type: "string" },
            tokenizer: { type: "string" },
            "problems-file": { type: "string" },
            problems: { type: "string" },
            batch: { type: "string" },
            gen: { type: "string" },
            configs: { type: "string" },
            cache: { type: "string" },
            "model-defaults": { type: "boolean" },
            decoders: { type: "boolean" },
            apd: { type: "boolean" },
            "ar-model": { type: "string" },
            sweep: { type: "boolean" },
            "sweep-only": { type: "boolean" },
            "sweep-problems": { type: "string" },
            "sweep-gen": { type: "string" },
            out: { type: "string" },
            "budget-s": { type: "string" },
            threads: { type: "string" },
            "no-progress": { type: "boolean" },
            replot: { type: "string" },
            resume: { type: "string" },
        },
        strict: true,
    });
    const int = (name: string, v: string | undefined, min = 1): number | undefined => {
        if (v === undefined) return undefined;
        const n = Number(v);
        if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: expected an integer >= ${min}, got ${JSON.stringify(v)}`);
        return n;
    };
    const device = values.device;
    if (device !== undefined && device !== "cpu" && device !== "cuda" && device !== "auto") throw new Error(`--device: cpu, cuda or auto, got ${device}`);
    const o: BenchmarkOptions = { command: `node dist/bench/run.js ${argv.join(" ")}`.trim() };
    if (device !== undefined) o.device = device;
    if (values.model !== undefined) o.modelPath = values.model;
    if (values.tokenizer !== undefined) o.tokenizerPath = values.tokenizer;
    if (values["problems-file"] !== undefined) o.problemsFile = values["problems-file"];
    const problems = int("problems", values.problems);
    if (problems !== undefined) o.problems = problems;
    const batch = int("batch", values.batch);
    if (batch !== undefined) o.batch = batch;
    if (values.gen !== undefined) o.genLengths = values.gen.split(",").map((g) => int("gen", g.trim()) as number);
    if (values.configs !== undefined) o.configs = values.configs.split(",").map((c) => c.trim()).filter(Boolean);
    if (values.cache !== undefined) o.caches = parseCacheModes(values.cache, "--cache");
    if (values["model-defaults"]) o.modelDefaults = true;
    if (values.decoders) o.decoders = true;
    if (values.apd) o.apd = true;
    if (values["ar-model"] !== undefined) o.arModelPath = values["ar-model"];
    if (o.apd && o.arModelPath === undefined) throw new Error("--apd needs --ar-model FILE.pt (a causal-LM archive, docs/model-format.md)");
    if (values.sweep) o.sweep = true;
    if (values["sweep-only"]) o.sweepOnly = true;
    const sweepProblems = int("sweep-problems", values["sweep-problems"]);
    if (sweepProblems !== undefined) o.sweepProblems = sweepProblems;
    const sweepGen = int("sweep-gen", values["sweep-gen"]);
    if (sweepGen !== undefined) o.sweepGenLength = sweepGen;
    if (values.out !== undefined) o.out = values.out;
    const budget = int("budget-s", values["budget-s"], 0);
    if (budget !== undefined) o.budgetSeconds = budget;
    const threads = int("threads", values.threads, 0);
    if (threads !== undefined) o.threads = threads;
    if (values["no-progress"]) o.progress = false;
    if (values.replot !== undefined) o.replot = values.replot;
    if (values.resume !== undefined) o.resume = values.resume;
    return o;
}

if (require.main === module) {
    const options = parseBenchArgs(process.argv.slice(2));
    (options.replot !== undefined ? Promise.resolve(replot(options.replot, options.out)) : runBenchmark(options)).catch((error: unknown) => {
        console.error(error);
        process.exit(1);
    });
}
