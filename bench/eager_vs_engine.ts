// Issue 7, item 3: localleap's engine against a plain eager-PyTorch decoder (bench/eager_decoder.py)
// in the same run, on the same device, with the same model.pt and the same rules: both decode the
// same prompt ids one at a time (batch 1, greedy). Writes eager-vs-engine.json and .md: ms/step and
// tokens/s of each and their ratios, and how far the tokens agree.
//   node dist/bench/eager_vs_engine.js --model /tmp/ref.pt [--device cuda] [--problems 100] [--gen 256]
//        [--configs localleap,low-confidence] [--python python3] [--budget-s S] [--out DIR]
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { loadModel } from "../lib/loadModel";
import type { Model } from "../lib/model";
import type { GenerateOptions } from "../lib/options";
import type { DeviceOption, FinishReason } from "../lib/types";
import { packageRoot } from "../lib/utils/packageRoot";
import { type BenchConfig, localleap, lowConfidence, threshold } from "./accuracy/configs";
import { defaultProblemsPath, loadProblems } from "./accuracy/problems";
import { problemMessages } from "./accuracy/prompt";
import { promptEncoder } from "./accuracy/promptIds";

interface EagerRow {
    id: string;
    tokens: number[];
    finishReason: "eos" | "length";
    steps: number;
    stepsPerBlock: number[];
    ms: number;
}
interface EagerOutput {
    device: string;
    torch: string;
    confidence: string;
    configs: { name: string; rows: EagerRow[] }[];
}
interface EngineRow {
    id: string;
    tokens: number[];
    finishReason: FinishReason;
    steps: number;
    stepsPerBlock: number[];
    /** Wall time of the generate() await. */
    wallMs: number;
    /** The engine's own time (GenerateResult.timings.totalMs). */
    engineMs: number;
    cudaGraph: boolean;
}

/** Time figures of one decoder over the problems: summed, then divided. */
interface Speed {
    /** Milliseconds per generation (mean). */
    msPerProblem: number;
    msPerStep: number;
    tokensPerSecond: number;
}

export interface EagerVsEngineOptions {
    modelPath?: string;
    device?: DeviceOption;
    problems?: number;
    genLength?: number;
    configs?: string[];
    python?: string;
    budgetSeconds?: number;
    out?: string;
    tokenizerPath?: string;
    exactConfidence?: boolean;
    /** Run the engine without CUDA graphs too (default true on CUDA). */
    engineEager?: boolean;
    command?: string;
}

function configByName(name: string, genLength: number): BenchConfig {
    if (name === "localleap") return localleap(genLength);
    if (name === "localleap-stop") return localleap(genLength, 0.9, 0.75, 4, true);
    if (name === "low-confidence") return lowConfidence(genLength);
    if (name === "threshold") return threshold(genLength);
    throw new Error(`unknown configuration ${name}: localleap, localleap-stop, low-confidence or threshold`);
}

/** The options the Python decoder reads for a configuration. */
function eagerConfig(config: BenchConfig): Record<string, unknown> {
    const o = config.options;
    return {
        name: config.name,
        strategy: o.strategy,
        ...(o.steps !== undefined && { steps: o.steps }),
        ...(o.threshold !== undefined && { threshold: o.threshold }),
        ...(o.anchorThreshold !== undefined && { anchorThreshold: o.anchorThreshold }),
        ...(o.relaxedThreshold !== undefined && { relaxedThreshold: o.relaxedThreshold }),
        ...(o.radius !== undefined && { radius: o.radius }),
        stopAtEos: o.stopAtEos ?? false,
    };
}

const useful = (r: { tokens: number[]; finishReason: string }, genLength: number) => (r.finishReason === "eos" ? r.tokens.length + 1 : genLength);

function speedOf(rows: readonly { ms: number; steps: number; tokens: number[]; finishReason: string }[], genLength: number): Speed {
    const ms = rows.reduce((a, r) => a + r.ms, 0);
    const steps = rows.reduce((a, r) => a + r.steps, 0);
    const tokens = rows.reduce((a, r) => a + useful(r, genLength), 0);
    return { msPerProblem: rows.length ? ms / rows.length : 0, msPerStep: steps ? ms / steps : 0, tokensPerSecond: ms ? tokens / (ms / 1000) : 0 };
}

/** Token agreement of two decodes: the generated tokens up to and including the end token. */
function agreement(engine: readonly EngineRow[], eager: readonly EagerRow[]) {
    let positions = 0;
    let matching = 0;
    let identical = 0;
    let sameSteps = 0;
    const differing: { id: string; firstDifference: number; engineSteps: number; eagerSteps: number }[] = [];
    engine.forEach((g, i) => {
        const e = eager[i] as EagerRow;
        const a = g.finishReason === "eos" ? [...g.tokens, -1] : g.tokens; // -1: "an end token"
        const b = e.finishReason === "eos" ? [...e.tokens, -1] : e.tokens;
        const n = Math.max(a.length, b.length);
        let first = -1;
        for (let k = 0; k < n; k++) {
            if (a[k] === b[k]) matching++;
            else if (first < 0) first = k;
        }
        positions += n;
        const stepsMatch = g.steps === e.steps && g.stepsPerBlock.every((s, k) => s === e.stepsPerBlock[k]);
        if (first < 0) identical++;
        if (stepsMatch) sameSteps++;
        if (first >= 0 || !stepsMatch) differing.push({ id: g.id, firstDifference: first, engineSteps: g.steps, eagerSteps: e.steps });
    });
    const n = engine.length;
    return {
        problems: n,
        identicalRowsPct: n ? (100 * identical) / n : 0,
        tokenAgreementPct: positions ? (100 * matching) / positions : 0,
        sameStepsPct: n ? (100 * sameSteps) / n : 0,
        differing: differing.slice(0, 20),
    };
}

async function runEngine(model: Model, ids: Map<string, number[]>, order: readonly string[], options: GenerateOptions): Promise<EngineRow[]> {
    const first = ids.get(order[0] as string) as number[];
    for (let i = 0; i < 3; i++) await model.generate(first, options); // warm-up (and the first CUDA graph capture)
    const rows: EngineRow[] = [];
    for (const id of order) {
        const t0 = performance.now();
        const r = await model.generate(ids.get(id) as number[], options);
        const wallMs = performance.now() - t0;
        rows.push({ id, tokens: r.tokens, finishReason: r.finishReason, steps: r.steps, stepsPerBlock: r.stepsPerBlock, wallMs, engineMs: r.timings.totalMs, cudaGraph: r.cudaGraph });
    }
    return rows;
}

export async function runEagerVsEngine(options: EagerVsEngineOptions = {}): Promise<object> {
    const root = packageRoot();
    const genLength = options.genLength ?? 256;
    const configs = (options.configs ?? ["localleap", "low-confidence"]).map((name) => configByName(name, genLength));
    const out = options.out ?? path.join(root, "bench", "results", "eager-vs-engine");
    mkdirSync(out, { recursive: true });
    const load = () => loadModel({ device: options.device ?? "cuda", ...(options.modelPath !== undefined && { modelPath: options.modelPath }) });

    // 1. Prompt ids, checked against the engine's own encoding of the chat messages.
    const problems = loadProblems(defaultProblemsPath(), options.problems ?? 100);
    let model = await load();
    const encode = await promptEncoder(options.tokenizerPath ?? path.join(root, "models", "reference"), model.info.metadata);
    const ids = new Map(problems.map((p) => [p.id, encode(p.question)]));
    const probe = problems[0]!;
    const [viaMessages, viaIds] = [
        await model.generate(problemMessages(probe.question), { genLength: 32, strategy: "low-confidence" }),
        await model.generate(ids.get(probe.id) as number[], { genLength: 32, strategy: "low-confidence" }),
    ];
    if (viaMessages.promptTokens !== viaIds.promptTokens || viaMessages.tokens.join() !== viaIds.tokens.join()) {
        throw new Error("the prompt ids differ from the engine's encoding of the chat messages");
    }
    const modelPath = model.info.path;
    const deviceName = model.info.device === "cuda" ? model.info.build.cudaDeviceName : "cpu";
    const build = model.info.build.variantName;
    const dtype = model.info.dtype;
    await model.dispose(); // the eager decoder gets the device to itself

    // 2. The eager decoder, on the same file.
    const promptsFile = path.join(out, "eager-prompts.json");
    const eagerFile = path.join(out, "eager-output.json");
    writeFileSync(promptsFile, JSON.stringify({ genLength, blockLength: 32, problems: problems.map((p) => ({ id: p.id, ids: ids.get(p.id) })), configs: configs.map(eagerConfig) }));
    const args = [path.join(root, "bench", "eager_decoder.py"), "--model", modelPath, "--prompts", promptsFile, "--out", eagerFile];
    args.push("--device", options.device === "cpu" ? "cpu" : "cuda");
    if (options.budgetSeconds) args.push("--budget-s", String(options.budgetSeconds));
    if (options.exactConfidence) args.push("--exact-confidence");
    const t0 = performance.now();
    const py = spawnSync(options.python ?? "python3", args, { stdio: ["ignore", "inherit", "inherit"] });
    if (py.status !== 0) throw new Error(`eager_decoder.py failed (status ${py.status}${py.error ? `, ${py.error.message}` : ""})`);
    console.error(`eager decoder: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    const eager = JSON.parse(readFileSync(eagerFile, "utf8")) as EagerOutput;

    // 3. The engine on the problems the eager decoder did, batch 1; with and without CUDA graphs.
    model = await load();
    const engineEager = (options.engineEager ?? true) && model.info.device === "cuda";
    const results = [];
    try {
        for (const config of configs) {
            const e = eager.configs.find((c) => c.name === config.name);
            if (!e || e.rows.length === 0) throw new Error(`the eager decoder returned nothing for ${config.name}`);
            const order = e.rows.map((r) => r.id);
            const t1 = performance.now();
            const graph = await runEngine(model, ids, order, { ...config.options, cudaGraph: true });
            const noGraph = engineEager ? await runEngine(model, ids, order, { ...config.options, cudaGraph: false }) : null;
            console.error(`engine ${config.name}: ${order.length} problems, ${((performance.now() - t1) / 1000).toFixed(0)} s`);
            const asWall = (rows: EngineRow[]) => rows.map((r) => ({ ...r, ms: r.wallMs }));
            const asEngine = (rows: EngineRow[]) => rows.map((r) => ({ ...r, ms: r.engineMs }));
            const eagerSpeed = speedOf(e.rows, genLength);
            const engine = speedOf(asWall(graph), genLength);
            const engineNoGraph = noGraph ? speedOf(asWall(noGraph), genLength) : null;
            results.push({
                config: config.name,
                description: config.description,
                problems: order.length,
                eager: eagerSpeed,
                engine,
                engineOwnTime: speedOf(asEngine(graph), genLength),
                engineNoCudaGraph: engineNoGraph,
                cudaGraphUsed: graph.filter((r) => r.cudaGraph).length,
                ratios: {
                    msPerStepEagerOverEngine: engine.msPerStep ? eagerSpeed.msPerStep / engine.msPerStep : 0,
                    tokensPerSecondEngineOverEager: eagerSpeed.tokensPerSecond ? engine.tokensPerSecond / eagerSpeed.tokensPerSecond : 0,
                    ...(engineNoGraph && {
                        msPerStepEagerOverEngineNoCudaGraph: engineNoGraph.msPerStep ? eagerSpeed.msPerStep / engineNoGraph.msPerStep : 0,
                        tokensPerSecondEngineNoCudaGraphOverEager: eagerSpeed.tokensPerSecond ? engineNoGraph.tokensPerSecond / eagerSpeed.tokensPerSecond : 0,
                    }),
                },
                agreement: agreement(graph, e.rows),
                ...(noGraph && { agreementNoCudaGraph: agreement(noGraph, e.rows) }),
            });
        }
    } finally {
        await model.dispose();
    }
    const report = {
        date: new Date().toISOString(),
        command: options.command ?? "runEagerVsEngine()",
        device: deviceName,
        model: modelPath,
        dtype,
        build,
        eagerTorch: eager.torch,
        eagerDevice: eager.device,
        eagerConfidence: eager.confidence,
        genLength,
        blockLength: 32,
        timing:
            "Per generation, batch 1: eager = Python wall time between torch.cuda.synchronize() calls (on CUDA); engine = wall time of the generate() await " +
            "(token ids in, no tokenization); engineOwnTime = GenerateResult.timings.totalMs. ms/step = summed time / summed steps; " +
            "tokens/s = useful tokens (up to and including the end token) / summed time. Warm-up: 3 untimed decodes of the first problem per decoder and configuration. " +
            "The engine captures a CUDA graph per canvas shape and keeps the last 4, so a problem whose prompt length is new pays a capture; that time is included.",
        results,
    };
    writeFileSync(path.join(out, "eager-vs-engine.json"), JSON.stringify(report, null, 1));
    writeFileSync(path.join(out, "eager-vs-engine.md"), markdown(report));
    console.error(`wrote ${out}/eager-vs-engine.json and .md`);
    return report;
}

function markdown(report: { date: string; command: string; device: string; model: string; dtype: string; build: string; eagerTorch: string; eagerConfidence: string; genLength: number; timing: string; results: any[] }): string {
    const f = (v: number, d = 2) => v.toFixed(d);
    const lines = [
        "## Engine against eager PyTorch (same run, same device, same model.pt, same rules)",
        "",
        `- date: ${report.date}; command: \`${report.command}\``,
        `- device: ${report.device}; model ${report.model} (${report.dtype}); engine ${report.build}; eager: torch ${report.eagerTorch}, ${report.eagerConfidence} confidences`,
        `- gen length ${report.genLength}, block 32, greedy, batch 1. ${report.timing}`,
        "",
        "| config | problems | decoder | ms/problem | ms/step | tokens/s | ms/step ratio (eager / this) | tokens/s ratio (this / eager) |",
        "|---|---|---|---|---|---|---|---|",
    ];
    for (const r of report.results) {
        lines.push(`| ${r.config} | ${r.problems} | eager PyTorch | ${f(r.eager.msPerProblem, 1)} | ${f(r.eager.msPerStep, 3)} | ${f(r.eager.tokensPerSecond, 0)} | 1 | 1 |`);
        lines.push(
            `| ${r.config} | ${r.problems} | engine (CUDA graphs: ${r.cudaGraphUsed}/${r.problems}) | ${f(r.engine.msPerProblem, 1)} | ${f(r.engine.msPerStep, 3)} | ${f(r.engine.tokensPerSecond, 0)} | ` +
                `${f(r.ratios.msPerStepEagerOverEngine)} | ${f(r.ratios.tokensPerSecondEngineOverEager)} |`,
        );
        if (r.engineNoCudaGraph) {
            lines.push(
                `| ${r.config} | ${r.problems} | engine, cudaGraph: false | ${f(r.engineNoCudaGraph.msPerProblem, 1)} | ${f(r.engineNoCudaGraph.msPerStep, 3)} | ${f(r.engineNoCudaGraph.tokensPerSecond, 0)} | ` +
                    `${f(r.ratios.msPerStepEagerOverEngineNoCudaGraph)} | ${f(r.ratios.tokensPerSecondEngineNoCudaGraphOverEager)} |`,
            );
        }
    }
    lines.push("", "| config | problems | identical decodes | token agreement | same steps per block | first differences |", "|---|---|---|---|---|---|");
    for (const r of report.results) {
        const a = r.agreement;
        const diffs = a.differing.map((d: any) => `${d.id}@${d.firstDifference} (steps ${d.engineSteps}/${d.eagerSteps})`).join(", ") || "none";
        lines.push(`| ${r.config} | ${a.problems} | ${f(a.identicalRowsPct, 1)}% | ${f(a.tokenAgreementPct, 2)}% | ${f(a.sameStepsPct, 1)}% | ${diffs} |`);
    }
    lines.push("", "Token agreement: positions of the generated tokens (up to and including the end token) where engine and eager decoder hold the same token.", "");
    return lines.join("\n");
}

export function parseEagerArgs(argv: string[]): EagerVsEngineOptions {
    const { values } = parseArgs({
        args: argv,
        options: {
            model: { type: "string" },
            device: { type: "string" },
            problems: { type: "string" },
            gen: { type: "string" },
            configs: { type: "string" },
            python: { type: "string" },
            "budget-s": { type: "string" },
            out: { type: "string" },
            tokenizer: { type: "string" },
            "exact-confidence": { type: "boolean" },
            "no-engine-eager": { type: "boolean" },
        },
        strict: true,
    });
    const o: EagerVsEngineOptions = { command: `node dist/bench/eager_vs_engine.js ${argv.join(" ")}`.trim() };
    if (values.model !== undefined) o.modelPath = values.model;
    if (values.device !== undefined) o.device = values.device as DeviceOption;
    if (values.problems !== undefined) o.problems = Number(values.problems);
    if (values.gen !== undefined) o.genLength = Number(values.gen);
    if (values.configs !== undefined) o.configs = values.configs.split(",").filter(Boolean);
    if (values.python !== undefined) o.python = values.python;
    if (values["budget-s"] !== undefined) o.budgetSeconds = Number(values["budget-s"]);
    if (values.out !== undefined) o.out = values.out;
    if (values.tokenizer !== undefined) o.tokenizerPath = values.tokenizer;
    if (values["exact-confidence"]) o.exactConfidence = true;
    if (values["no-engine-eager"]) o.engineEager = false;
    return o;
}

if (require.main === module) {
    runEagerVsEngine(parseEagerArgs(process.argv.slice(2))).catch((error: unknown) => {
        console.error(error);
        process.exit(1);
    });
}
