// The benchmark's outputs: the JSON document and its markdown rendering.
import type { AupSummary, ConfigSummary } from "./summarize";

/** Where and how the figures were measured. */
export interface BenchMeta {
    date: string;
    command: string;
    model: { name: string; path: string; dtype: string; device: string; parameterBytes: number; decodingDefaults?: unknown };
    build: { variantName: string; torchVersion: string; cudaVersion: string; cudaDeviceName: string };
    host: { cpus: number; cpuModel: string; threads: number; node: string; platform: string; hostname: string; loadAverageAtStart: number[]; loadAverageAtEnd?: number[] };
    problems: { file: string; count: number; first: string; last: string };
    batch: number;
    /** What ms/step and tokens/s mean at this batch size. */
    timingNote: string;
    /** Rows taken over from an earlier, interrupted run of the same measurement (--resume). */
    resumedFrom?: { date: string; command: string; rows: string[] };
}

/** One part of a run: the main table or the sweep. */
export interface BenchSection {
    problems: number;
    configs: ConfigSummary[];
    aup: AupSummary[];
    /** Configurations not run (time budget). */
    skipped: string[];
}

export interface BenchReport {
    meta: BenchMeta;
    main: BenchSection;
    sweep?: BenchSection & { genLength: number; note: string };
    seconds: number;
}

const f1 = (v: number) => v.toFixed(1);
const loads = (l: readonly number[]) => l.map((v) => v.toFixed(2)).join(" / ");
const f2 = (v: number) => v.toFixed(2);
const speed = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
const ms = (v: number) => (v >= 10 ? v.toFixed(1) : v.toFixed(2));

export function configTable(configs: readonly ConfigSummary[]): string[] {
    const lines = [
        "| config | gen | what | accuracy | mean steps | steps % | TPF | answer TPF | tokens/s | ms/step | no answer | n |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ];
    for (const s of configs) {
        lines.push(
            `| ${s.name} | ${s.genLength} | ${s.description} | ${f1(s.accuracy)}% | ${f1(s.meanSteps)} | ${f1(s.stepsPct)}% | ${f2(s.tpf)} | ` +
                `${f2(s.answerTpf)} | ${speed(s.tokensPerSecond)} | ${ms(s.msPerStep)} | ${f1(s.noAnswer)}% | ${s.n} |`,
        );
    }
    return lines;
}

export function aupTable(aup: readonly AupSummary[]): string[] {
    const lines = ["| gen | family | points (TPF, accuracy) | AUP |", "|---|---|---|---|"];
    for (const a of aup) {
        const points = a.points
            .slice()
            .sort((p, q) => p.tpf - q.tpf)
            .map((p) => `${p.name} (${f2(p.tpf)}, ${f1(p.accuracy)}%)${a.kept.includes(p.name) ? "" : " [dropped: > 5 points below y_1]"}`)
            .join("; ");
        const family = a.cache === undefined || a.cache === "none" ? a.family : `${a.family}, ${a.cache} cache`;
        lines.push(`| ${a.genLength} | ${family} | ${points} | ${f1(a.aup)} |`);
    }
    return lines;
}

export const DEFINITIONS = [
    "- accuracy: exact final answer (`#### N`, `answer is N`, `Answer: N`; the last one; a port of problems.extract_answer) against the gold answer.",
    "- mean steps: forward passes per problem; steps %: mean steps / gen length (the one-token-per-step baseline takes gen length steps).",
    "- TPF: tokens per forward pass = positions committed by steps / forward passes (evaluate.py's tokens/step; stopAtEos padding is not counted as committed). " +
        "answer TPF: (answer tokens + end token) / forward passes of the blocks up to the answer's end.",
    "- AUP: per family and gen length over the points (TPF, accuracy %), kept when within 5 points of the least parallel point's accuracy; " +
        "AUP = rho_1 y_1 + sum (rho_i - rho_{i-1}) (y_i W(y_i) + y_{i-1} W(y_{i-1})) / 2, W(y) = min(exp(-3 (1 - y / y_max)), 1), " +
        "y_max the best accuracy of any configuration in the same table.",
];

// APD rows take a causal-LM forward beside each dLLM forward (mean steps counts the dLLM's).
function apdForwards(configs: readonly ConfigSummary[]): string[] {
    const apd = configs.filter((c) => c.meanArForwards !== undefined);
    if (apd.length === 0) return [];
    return [`Causal-LM forwards per problem (APD): ${apd.map((c) => `${c.name} ${f1(c.meanArForwards as number)}`).join(", ")}.`, ""];
}

function section(title: string, s: BenchSection, extra: string[] = []): string[] {
    const yMax = Math.max(0, ...s.configs.map((c) => c.accuracy));
    return [
        `## ${title}`,
        "",
        ...extra,
        ...configTable(s.configs),
        "",
        ...apdForwards(s.configs),
        ...(s.skipped.length > 0 ? [`Not run (time budget): ${s.skipped.join(", ")}.`, ""] : []),
        `AUP (y_max = ${f1(yMax)}%):`,
        "",
        ...aupTable(s.aup),
        "",
    ];
}

export function reportMarkdown(report: BenchReport): string {
    const m = report.meta;
    const device =
        m.model.device === "cuda"
            ? `cuda (${m.build.cudaDeviceName}), ${m.build.variantName}`
            : `cpu (${m.host.cpus} × ${m.host.cpuModel}, ${m.host.threads === 0 ? "libtorch's default threads" : `${m.host.threads} threads`}), ${m.build.variantName}`;
    const lines = [
        "# localleap benchmark: held-out accuracy and speed",
        "",
        `- date: ${m.date}; command: \`${m.command}\``,
        `- model: ${m.model.name} (${m.model.path}), dtype ${m.model.dtype}; device: ${device}; node ${m.host.node}`,
        `- problems: ${m.problems.count} held-out problems (${m.problems.first} .. ${m.problems.last}, ${m.problems.file}), chat prompt as evaluate.py, greedy, block length 32`,
        `- batch: ${m.batch}. ${m.timingNote}`,
        `- wall time of the whole run: ${report.seconds.toFixed(0)} s; host load average (1, 5, 15 min) at start ${loads(m.host.loadAverageAtStart)}` +
            (m.host.loadAverageAtEnd ? `, at end ${loads(m.host.loadAverageAtEnd)}` : "") +
            " (other processes sharing the CPU slow the timings)",
        ...(m.resumedFrom && m.resumedFrom.rows.length > 0
            ? [`- resumed: ${m.resumedFrom.rows.join(", ")} come from the run of ${m.resumedFrom.date} (\`${m.resumedFrom.command}\`), same problems, batch, model and binary`]
            : []),
        "",
        ...(report.main.configs.length > 0 || report.main.skipped.length > 0 ? section("Held-out table", report.main) : []),
    ];
    if (report.sweep) {
        lines.push(...section(`Sweep of κ, τ, W (and θ), gen length ${report.sweep.genLength}`, report.sweep, [report.sweep.note, ""]));
    }
    lines.push("## Definitions", "", ...DEFINITIONS, "");
    return lines.join("\n");
}
