// The engine's KV-cache steps (issue 12): per-kind step timings from generate()'s native result
// (fullSteps / fullStepMs: steps over the whole canvas; cachedSteps / cachedStepMs: steps over the
// window against the cache) for cache none / prefix / dual, batches and gen lengths, and the growth
// of ms/step with the canvas length (none against dual) as an SVG plot. Loads the archive once,
// through the addon as bench/stepOverhead.ts does.
//
//   node dist/bench/cacheSteps.js --model M.pt --out cache-steps.json [--device cuda|cpu]
//        [--prompt 128] [--batch 1,8] [--gen 256,512,1024] [--block 32] [--caches none,prefix,dual]
//        [--modes SPEC] [--max-blocks N] [--skip 8x1024] [--budget-s S] [--tpf 7]
//        [--growth 256,512,1024,1536,2048] [--growth-caches none,dual] [--growth-batch 1] [--growth-blocks 2]
//        [--svg FILE.svg] [--no-warmup] [--eager] [--legacy-ok] [--trust-model-code]
//   node dist/bench/cacheSteps.js --replot cache-steps.json [--svg FILE.svg]
//
// --modes is a comma-separated list of runs, in the order they run (later ones are the first to
// fall to --budget-s); each is NAME[/MAXBLOCKS][@SHAPES]:
//   NAME       lc1 (low-confidence, one token per step: steps = gen length), lcN (low-confidence,
//              N steps per block, a fixed step count), localleap (the defaults κ 0.9, τ 0.75, W 4),
//              threshold (θ 0.9), or growth (the growth sweep, at that point of the order);
//   MAXBLOCKS  run only the first MAXBLOCKS blocks (the decode is finished early; default --max-blocks,
//              0 = the whole decode);
//   SHAPES     B or BxG joined by +: only those batch sizes / (batch, gen) pairs (default: all).
// A (name, shape) runs once: the first item that names it wins. Default:
//   lc1@1x256,lc1/2,growth,lc5@1,localleap/2@1x256
// Each run is preceded by an identical warm-up run (it captures the CUDA graphs of every shape the
// measured run meets), unless --no-warmup.
import { writeFileSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import type { AddonGenerateResult, AddonModel, AddonStepEvent } from "../lib/bindings/AddonTypes";
import { getAddon } from "../lib/bindings/getAddon";
import { drawAxes, linearScale, niceDomain, Svg } from "../lib/utils/svg";
import { type CacheGenerateRequest, type CacheMode, cacheStepTimings, parseCacheModes } from "./cacheTypes";
import { ordinaryPrompt } from "./syntheticPrompt";

/** The issue's reference figure: d3LLM-LLaDA served by SGLang, H100, batch 1. */
export const REFERENCE = { name: "d3LLM-LLaDA on SGLang", tokensPerSecond: 545, machine: "H100", batch: 1 } as const;
export const DEFAULT_MODES = "lc1@1x256,lc1/2,growth,lc5@1,localleap/2@1x256";

// ---------------------------------------------------------------------------------------------
// The run plan

export type ModeKind = "lc1" | "lcN" | "localleap" | "threshold" | "growth";

export interface ModeSpec {
    /** As written: "lc1", "lc5", "localleap", "threshold", "growth". */
    name: string;
    kind: ModeKind;
    /** lcN: N. */
    stepsPerBlock?: number;
    /** 0: the whole decode. */
    maxBlocks: number;
    /** null: every shape. */
    shapes: { batch: number; gen?: number }[] | null;
}

/** Parses --modes (see the header). */
export function parseModes(text: string, defaultMaxBlocks: number): ModeSpec[] {
    return text
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)
        .map((item) => {
            const m = /^([a-z]+[0-9]*)(?:\/([0-9]+))?(?:@([0-9x+]+))?$/.exec(item);
            if (!m) throw new Error(`--modes: cannot read ${JSON.stringify(item)} (NAME[/MAXBLOCKS][@B or BxG joined by +])`);
            const name = m[1] as string;
            let kind: ModeKind;
            let stepsPerBlock: number | undefined;
            if (name === "lc1") kind = "lc1";
            else if (name === "localleap" || name === "threshold" || name === "growth") kind = name;
            else if (/^lc[0-9]+$/.test(name)) {
                kind = "lcN";
                stepsPerBlock = Number(name.slice(2));
                if (!(stepsPerBlock >= 1)) throw new Error(`--modes: ${name}: at least one step per block`);
            } else throw new Error(`--modes: unknown mode ${JSON.stringify(name)} (lc1, lcN, localleap, threshold, growth)`);
            const shapes =
                m[3] === undefined
                    ? null
                    : m[3].split("+").map((s) => {
                          const [b, g] = s.split("x");
                          const batch = Number(b);
                          const gen = g === undefined ? undefined : Number(g);
                          if (!Number.isInteger(batch) || batch < 1 || (gen !== undefined && (!Number.isInteger(gen) || gen < 1))) {
                              throw new Error(`--modes: bad shape ${JSON.stringify(s)} in ${JSON.stringify(item)}`);
                          }
                          return gen === undefined ? { batch } : { batch, gen };
                      });
            return { name, kind, ...(stepsPerBlock !== undefined && { stepsPerBlock }), maxBlocks: m[2] === undefined ? defaultMaxBlocks : Number(m[2]), shapes };
        });
}

/** One generate() of the plan (the warm-up repeats it). */
export interface PlannedRun {
    mode: ModeSpec;
    batch: number;
    genLength: number;
    cache: CacheMode;
    sweep: "main" | "growth";
}

export interface PlanOptions {
    batches: number[];
    gens: number[];
    caches: CacheMode[];
    skip: Set<string>;
    prompt: number;
    block: number;
    maxLength: number;
    growthCanvases: number[];
    growthCaches: CacheMode[];
    growthBatch: number;
    growthBlocks: number;
}

/** The runs in order, and the (shape, reason) pairs left out. */
export function buildPlan(modes: ModeSpec[], o: PlanOptions): { runs: PlannedRun[]; left: { run: string; reason: string }[] } {
    const runs: PlannedRun[] = [];
    const left: { run: string; reason: string }[] = [];
    const seen = new Set<string>();
    for (const mode of modes) {
        if (mode.kind === "growth") {
            const spec: ModeSpec = { name: "lc1", kind: "lc1", maxBlocks: o.growthBlocks, shapes: null };
            for (const canvas of o.growthCanvases) {
                const gen = canvas - o.prompt;
                if (gen < o.block || gen % o.block !== 0 || canvas > o.maxLength) {
                    left.push({ run: `growth canvas ${canvas}`, reason: `gen ${gen} is not a positive multiple of the block ${o.block}, or canvas over maxLength ${o.maxLength}` });
                    continue;
                }
                for (const cache of o.growthCaches) runs.push({ mode: spec, batch: o.growthBatch, genLength: gen, cache, sweep: "growth" });
            }
            continue;
        }
        for (const batch of o.batches) {
            for (const gen of o.gens) {
                if (mode.shapes !== null && !mode.shapes.some((s) => s.batch === batch && (s.gen === undefined || s.gen === gen))) continue;
                const key = `${mode.name}:${batch}x${gen}`;
                if (seen.has(key)) continue;
                seen.add(key);
                if (o.skip.has(`${batch}x${gen}`)) {
                    left.push({ run: `${mode.name} ${batch}x${gen}`, reason: "--skip" });
                    continue;
                }
                if (gen % o.block !== 0 || o.prompt + gen > o.maxLength) {
                    left.push({ run: `${mode.name} ${batch}x${gen}`, reason: `gen not a multiple of the block ${o.block}, or canvas over maxLength ${o.maxLength}` });
                    continue;
                }
                if (mode.kind === "lcN" && (mode.stepsPerBlock as number) > o.block) {
                    left.push({ run: `${mode.name} ${batch}x${gen}`, reason: `more steps per block than the block's ${o.block} positions` });
                    continue;
                }
                for (const cache of o.caches) runs.push({ mode, batch, genLength: gen, cache, sweep: "main" });
            }
        }
    }
    return { runs, left };
}

// ---------------------------------------------------------------------------------------------
// Derived figures

/** ms per step over a block of `s` steps whose first is a full step and the rest cached. */
export function blockAveragedMs(fullMs: number | null, cachedMs: number | null, s: number): number | null {
    if (fullMs === null) return null;
    if (s <= 1) return fullMs;
    if (cachedMs === null) return null;
    return (fullMs + (s - 1) * cachedMs) / s;
}

/** One measured run. */
export interface RunRow {
    sweep: "main" | "growth";
    mode: string;
    strategy: string;
    batch: number;
    promptLength: number;
    genLength: number;
    canvas: number;
    blockLength: number;
    blocks: number;
    cache: CacheMode;
    /** Requested: 0 = the whole decode. */
    maxBlocks: number;
    /** Blocks with at least one step in the measured run (the decode is finished early past maxBlocks). */
    blocksRun: number;
    stepsRequested: number;
    batchSteps: number;
    fullSteps: number;
    fullStepMs: number;
    cachedSteps: number;
    cachedStepMs: number;
    /** fullStepMs / fullSteps and cachedStepMs / cachedSteps (null without such steps). */
    fullMsPerStep: number | null;
    cachedMsPerStep: number | null;
    /** The engine's time in steps / batch steps: the measured block-averaged ms/step over the blocks run. */
    msPerStep: number;
    stepsPerBlockMean: number;
    totalMs: number;
    wallMs: number;
    warmupMs: number | null;
    /** Positions committed, all rows; tokens/s = committed / totalMs (set-up included). */
    committedTokens: number;
    tokensPerSecond: number;
    /** Block-averaged ms/step from the per-kind means for s steps per block, and its tokens/s (rows x block / (s x ms)). */
    blockAveraged: Record<"tpf" | "oneTokenPerStep", { stepsPerBlock: number; source: string; ms: number | null; tokensPerSecond: number | null }>;
    cudaGraph: boolean;
    cudaGraphFallbackReason: string;
    /** true when the binary had no per-kind timings and --legacy-ok counted every step as full. */
    legacyTimings: boolean;
    warnings: string[];
}

export interface CacheStepsReport {
    date: string;
    command: string;
    device: string;
    build: Record<string, unknown>;
    model: { path: string; name: string; dtype: string; parameterBytes: number; fileBytes: number; loadMs: number; methods: string[] };
    promptLength: number;
    blockLength: number;
    tpf: number;
    cudaGraph: boolean;
    warmup: boolean;
    reference: typeof REFERENCE;
    plan: string[];
    runs: RunRow[];
    growth: RunRow[];
    skipped: { run: string; reason: string }[];
    errors: string[];
    seconds: number;
}

// ---------------------------------------------------------------------------------------------
// Running

interface Ctx {
    model: AddonModel;
    newToken: () => { abort(): void; readonly aborted: boolean };
    prompt: Int32Array;
    promptLength: number;
    block: number;
    tpf: number;
    maskId: number;
    cudaGraph: boolean;
    warmup: boolean;
    legacyOk: boolean;
}

function strategyOf(mode: ModeSpec, genLength: number, block: number): Pick<CacheGenerateRequest, "strategy" | "steps"> {
    const blocks = genLength / block;
    if (mode.kind === "lc1") return { strategy: "low-confidence", steps: genLength };
    if (mode.kind === "lcN") return { strategy: "low-confidence", steps: blocks * (mode.stepsPerBlock as number) };
    if (mode.kind === "threshold") return { strategy: "threshold", steps: genLength };
    return { strategy: "localleap", steps: genLength };
}

/** generate() finished early once `maxBlocks` blocks have run (0: the whole decode). */
async function generateCapped(ctx: Ctx, request: CacheGenerateRequest, maxBlocks: number, perBlock: number | null): Promise<{ result: AddonGenerateResult; wallMs: number }> {
    const blocks = request.genLength / request.blockLength;
    let req: CacheGenerateRequest = request;
    if (maxBlocks > 0 && maxBlocks < blocks) {
        const finish = ctx.newToken();
        let inLastBlock = 0;
        const onStep = (event: AddonStepEvent) => {
            if (finish.aborted) return;
            if (event.block >= maxBlocks) finish.abort(); // adaptive rules: the next block has started
            else if (perBlock !== null && event.block === maxBlocks - 1 && ++inLastBlock >= perBlock) finish.abort();
        };
        req = { ...request, finish, onStep };
    }
    const t0 = performance.now();
    const result = await ctx.model.generate(req);
    return { result, wallMs: performance.now() - t0 };
}

export async function measureRun(ctx: Ctx, p: PlannedRun): Promise<RunRow> {
    const { block } = ctx;
    const blocks = p.genLength / block;
    const { strategy, steps } = strategyOf(p.mode, p.genLength, block);
    const perBlock = strategy === "low-confidence" ? steps / blocks : null;
    const request: CacheGenerateRequest = {
        prompts: Array.from({ length: p.batch }, () => ctx.prompt),
        genLength: p.genLength,
        blockLength: block,
        strategy,
        steps,
        threshold: 0.9,
        anchorThreshold: 0.9,
        relaxedThreshold: 0.75,
        radius: 4,
        temperature: 0,
        seeds: Array.from({ length: p.batch }, () => 0),
        stopAtEos: false,
        cudaGraph: ctx.cudaGraph,
        cache: p.cache,
    };
    let warmupMs: number | null = null;
    if (ctx.warmup) warmupMs = (await generateCapped(ctx, request, p.mode.maxBlocks, perBlock)).wallMs;
    const { result, wallMs } = await generateCapped(ctx, request, p.mode.maxBlocks, perBlock);
    const t = cacheStepTimings(result, ctx.legacyOk);
    const warnings: string[] = [];
    if (t.fullSteps + t.cachedSteps !== result.batchSteps) warnings.push(`fullSteps + cachedSteps = ${t.fullSteps + t.cachedSteps}, batchSteps ${result.batchSteps}`);
    if (p.cache === "none" && t.cachedSteps !== 0) warnings.push(`cache none ran ${t.cachedSteps} cached steps`);
    if (t.legacy && p.cache !== "none") warnings.push("legacy binary: the cache was not used and every step counts as full (dry run only)");
    const blocksRun = Math.max(0, ...result.rows.map((r) => Array.from(r.stepsPerBlock).filter((s) => s > 0).length));
    if (p.cache !== "none" && !t.legacy && t.fullSteps !== blocksRun) warnings.push(`${t.fullSteps} full steps for ${blocksRun} blocks (one per block expected)`);
    let committed = 0;
    for (const r of result.rows) for (const tok of r.tokens) if (tok !== ctx.maskId) committed++;
    const fullMs = t.fullSteps > 0 ? t.fullStepMs / t.fullSteps : null;
    const cachedMs = t.cachedSteps > 0 ? t.cachedStepMs / t.cachedSteps : null;
    // Without a cache every step is a full step: the block average is the full step at any s.
    const avg = (s: number) => (p.cache === "none" ? fullMs : blockAveragedMs(fullMs, cachedMs, s));
    const perSecond = (ms: number | null, s: number) => (ms === null || ms <= 0 ? null : (p.batch * (block / s) * 1000) / ms);
    const sTpf = block / ctx.tpf;
    return {
        sweep: p.sweep,
        mode: p.mode.name,
        strategy,
        batch: p.batch,
        promptLength: ctx.promptLength,
        genLength: p.genLength,
        canvas: ctx.promptLength + p.genLength,
        blockLength: block,
        blocks,
        cache: p.cache,
        maxBlocks: p.mode.maxBlocks,
        blocksRun,
        stepsRequested: steps,
        batchSteps: result.batchSteps,
        fullSteps: t.fullSteps,
        fullStepMs: t.fullStepMs,
        cachedSteps: t.cachedSteps,
        cachedStepMs: t.cachedStepMs,
        fullMsPerStep: fullMs,
        cachedMsPerStep: cachedMs,
        msPerStep: result.batchSteps > 0 ? result.stepMs / result.batchSteps : 0,
        stepsPerBlockMean: blocksRun > 0 ? result.batchSteps / blocksRun : 0,
        totalMs: result.totalMs,
        wallMs,
        warmupMs,
        committedTokens: committed,
        tokensPerSecond: result.totalMs > 0 ? committed / (result.totalMs / 1000) : 0,
        blockAveraged: {
            tpf: { stepsPerBlock: sTpf, source: `block length ${block} / TPF ${ctx.tpf} (assumed, from the per-kind means)`, ms: avg(sTpf), tokensPerSecond: perSecond(avg(sTpf), sTpf) },
            oneTokenPerStep: { stepsPerBlock: block, source: `one token per step (${block} steps per block, from the per-kind means)`, ms: avg(block), tokensPerSecond: perSecond(avg(block), block) },
        },
        cudaGraph: result.cudaGraph,
        cudaGraphFallbackReason: result.cudaGraphFallbackReason,
        legacyTimings: t.legacy,
        warnings,
    };
}

/** A conservative guess of a planned run's seconds (warm-up included), from the full steps seen so far. */
function estimateSeconds(p: PlannedRun, msPerToken: number | null, prompt: number, block: number, warmup: boolean): number | null {
    if (msPerToken === null) return null;
    const blocks = p.genLength / block;
    const run = p.mode.maxBlocks > 0 ? Math.min(blocks, p.mode.maxBlocks) : blocks;
    const perBlock = p.mode.kind === "lcN" ? (p.mode.stepsPerBlock as number) : block;
    const full = msPerToken * p.batch * (prompt + p.genLength);
    const stepsMs = p.cache === "dual" ? run * full + run * (perBlock - 1) * full * Math.min(1, (2 * block) / (prompt + p.genLength)) : run * perBlock * full;
    return ((warmup ? 2 : 1) * stepsMs) / 1000;
}

// ---------------------------------------------------------------------------------------------
// Outputs

const f = (v: number | null | undefined, d = 2) => (v === null || v === undefined || !Number.isFinite(v) ? "-" : v.toFixed(d));

export function reportMarkdown(r: CacheStepsReport): string {
    const lines = [
        `Engine on ${r.model.path} (${r.model.name}, ${r.model.dtype}): ${r.device}; CUDA graphs ${r.cudaGraph ? "on" : "off"}; prompt ${r.promptLength}, block ${r.blockLength}; ${r.date}`,
        "",
        "| sweep | batch | canvas | cache | mode | blocks run | full steps | cached steps | full ms/step | cached ms/step | measured ms/step | block avg @ TPF " +
            `${r.tpf} | tok/s measured | tok/s @ TPF ${r.tpf} | graph |`,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ];
    for (const x of [...r.runs, ...r.growth]) {
        lines.push(
            `| ${x.sweep} | ${x.batch} | ${x.promptLength} + ${x.genLength} | ${x.cache} | ${x.mode} | ${x.blocksRun}/${x.blocks} | ${x.fullSteps} | ${x.cachedSteps} | ` +
                `${f(x.fullMsPerStep)} | ${f(x.cachedMsPerStep)} | ${f(x.msPerStep)} | ${f(x.blockAveraged.tpf.ms)} | ${f(x.tokensPerSecond, 0)} | ` +
                `${f(x.blockAveraged.tpf.tokensPerSecond, 0)} | ${x.cudaGraph}${x.cudaGraphFallbackReason ? ` (${x.cudaGraphFallbackReason})` : ""} |`,
        );
    }
    lines.push(
        "",
        `measured ms/step: the engine's step time / steps over the blocks run (blocks run < blocks: the decode was finished early, ` +
            `so a prefix cache's figure is that of the first, longest windows). block avg @ TPF ${r.tpf}: (full + (s - 1) x cached) / s with ` +
            `s = ${r.blockLength} / ${r.tpf} steps per block, assumed. Reference: ${REFERENCE.name} ${REFERENCE.tokensPerSecond} tok/s (${REFERENCE.machine}, batch ${REFERENCE.batch}).`,
    );
    const warned = [...r.runs, ...r.growth].filter((x) => x.warnings.length > 0);
    if (warned.length > 0) lines.push("", "Warnings: " + warned.map((x) => `${x.mode} ${x.batch}x${x.genLength} ${x.cache}: ${x.warnings.join("; ")}`).join(" | "));
    if (r.skipped.length > 0) lines.push("", "Not run: " + r.skipped.map((s) => `${s.run} (${s.reason})`).join("; "));
    if (r.errors.length > 0) lines.push("", "Errors: " + r.errors.join(" | "));
    return lines.join("\n") + "\n";
}

const CACHE_COLOR: Record<CacheMode, string> = { none: "#4c72b0", prefix: "#dd8452", dual: "#55a868" };

/** ms/step against canvas length: per cache mode its full step, cached step and block average at TPF. */
export function growthSvg(rows: readonly RunRow[], subtitle: string, tpf: number): string {
    const svg = new Svg(900, 520);
    const area = { left: 80, right: 620, top: 50, bottom: 450 };
    type Series = { label: string; color: string; dash?: string; points: [number, number][] };
    const series: Series[] = [];
    const caches = [...new Set(rows.map((r) => r.cache))];
    const byCanvas = (list: RunRow[], pick: (r: RunRow) => number | null): [number, number][] =>
        list
            .map((r) => [r.canvas, pick(r)] as [number, number | null])
            .filter((p): p is [number, number] => p[1] !== null && Number.isFinite(p[1]))
            .sort((a, b) => a[0] - b[0]);
    for (const cache of caches) {
        const list = rows.filter((r) => r.cache === cache);
        const color = CACHE_COLOR[cache];
        if (cache === "none") {
            series.push({ label: "none: every step (whole canvas)", color, points: byCanvas(list, (r) => r.fullMsPerStep ?? r.msPerStep) });
            continue;
        }
        series.push({ label: `${cache}: a block's first step (full)`, color, dash: "6 3", points: byCanvas(list, (r) => r.fullMsPerStep) });
        series.push({ label: `${cache}: cached step`, color, points: byCanvas(list, (r) => r.cachedMsPerStep) });
        series.push({ label: `${cache}: block average at TPF ${tpf}`, color, dash: "2 3", points: byCanvas(list, (r) => r.blockAveraged.tpf.ms) });
    }
    const xs = rows.map((r) => r.canvas);
    const ys = series.flatMap((s) => s.points.map((p) => p[1]));
    const x = linearScale(niceDomain(xs.length > 0 ? xs : [0, 1], { includeZero: true }), [area.left, area.right]);
    const y = linearScale(niceDomain(ys.length > 0 ? ys : [0, 1], { includeZero: true }), [area.bottom, area.top]);
    drawAxes(svg, x, y, { x: "canvas length (prompt + gen), tokens", y: "ms per step", title: `Engine ms/step against canvas length (${subtitle})` });
    let ly = area.top + 10;
    for (const s of series) {
        svg.polyline(s.points.map(([px, py]) => [x(px), y(py)]), { stroke: s.color, "stroke-width": 2, ...(s.dash !== undefined && { "stroke-dasharray": s.dash }) });
        for (const [px, py] of s.points) svg.circle(x(px), y(py), 3, { fill: s.color });
        svg.line(area.right + 20, ly - 4, area.right + 48, ly - 4, { stroke: s.color, "stroke-width": 2, ...(s.dash !== undefined && { "stroke-dasharray": s.dash }) });
        svg.text(area.right + 54, ly, s.label, { "font-size": 11 });
        ly += 18;
    }
    return svg.toString();
}

function writeOutputs(out: string, svgPath: string, r: CacheStepsReport): void {
    writeFileSync(out, JSON.stringify(r, null, 1));
    writeFileSync(out.replace(/\.json$/, "") + ".md", reportMarkdown(r));
    if (r.growth.length > 0) {
        const batch = r.growth[0]?.batch ?? 1;
        writeFileSync(svgPath, growthSvg(r.growth, `${r.device}, batch ${batch}, ${r.model.name}`, r.tpf));
    }
}

// ---------------------------------------------------------------------------------------------

const ints = (name: string, text: string): number[] =>
    text.split(",").map((s) => {
        const n = Number(s.trim());
        if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: expected positive integers, got ${JSON.stringify(s)}`);
        return n;
    });

async function main(): Promise<void> {
    const { values } = parseArgs({
        args: process.argv.slice(2),
        options: {
            model: { type: "string" },
            out: { type: "string", default: "cache-steps.json" },
            device: { type: "string", default: "cuda" },
            prompt: { type: "string", default: "128" },
            batch: { type: "string", default: "1,8" },
            gen: { type: "string", default: "256,512,1024" },
            block: { type: "string", default: "32" },
            caches: { type: "string", default: "none,prefix,dual" },
            modes: { type: "string", default: DEFAULT_MODES },
            "max-blocks": { type: "string", default: "0" },
            skip: { type: "string", default: "" },
            "budget-s": { type: "string", default: "0" },
            tpf: { type: "string", default: "7" },
            growth: { type: "string", default: "256,512,1024,1536,2048" },
            "growth-caches": { type: "string", default: "none,dual" },
            "growth-batch": { type: "string", default: "1" },
            "growth-blocks": { type: "string", default: "2" },
            svg: { type: "string" },
            "no-warmup": { type: "boolean" },
            eager: { type: "boolean" },
            "legacy-ok": { type: "boolean" },
            "trust-model-code": { type: "boolean" },
            replot: { type: "string" },
        },
        strict: true,
    });
    if (values.replot !== undefined) {
        const r = JSON.parse(readFileSync(values.replot, "utf8")) as CacheStepsReport;
        writeOutputs(values.replot, values.svg ?? path.join(path.dirname(values.replot), "cache-growth.svg"), r);
        process.stdout.write(reportMarkdown(r));
        return;
    }
    const modelPath = values.model;
    if (!modelPath) throw new Error("--model is required (see the header of bench/cacheSteps.ts)");
    const device = values.device;
    if (device !== "cuda" && device !== "cpu") throw new Error(`--device: cuda or cpu, got ${device}`);
    const out = values.out;
    const svgPath = values.svg ?? path.join(path.dirname(out), "cache-growth.svg");
    const promptLength = Number(values.prompt);
    const block = Number(values.block);
    const tpf = Number(values.tpf);
    const budget = Number(values["budget-s"]);
    const modes = parseModes(values.modes, Number(values["max-blocks"]));
    const t0 = performance.now();
    const elapsed = () => (performance.now() - t0) / 1000;
    const log = (msg: string) => console.log(`[${elapsed().toFixed(1).padStart(6)} s] ${msg}`);

    const { addon, buildInfo } = await getAddon({ device });
    const loaded = await addon.loadModel({ path: modelPath, device, threads: 0, ...(values["trust-model-code"] && { trustModelCode: true }) });
    const m = JSON.parse(loaded.metadataJson) as { name: string; vocabSize: number; maskId: number; eosId: number; endIds: number[]; padId: number; logitsShifted: boolean; maxLength: number; kvCache?: { layers: number; kvHeads: number; headDim: number } };
    const info = await loaded.model.configure({ vocabSize: m.vocabSize, maskId: m.maskId, eosId: m.eosId, endIds: m.endIds, padId: m.padId, logitsShifted: m.logitsShifted, maxLength: m.maxLength, ...(m.kvCache && { kvCache: m.kvCache }) });
    const loadMs = performance.now() - t0;
    log(`loaded ${modelPath} (${m.name}, ${info.dtype}, ${(info.parameterBytes / 2 ** 30).toFixed(2)} GiB) in ${(loadMs / 1000).toFixed(1)} s on ${buildInfo.cudaDeviceName || device}; methods ${loaded.methods.join(", ")}`);
    const prompt = ordinaryPrompt(m, promptLength); // ordinary tokens: never the mask or an end token

    const { runs, left } = buildPlan(modes, {
        batches: ints("batch", values.batch),
        gens: ints("gen", values.gen),
        caches: parseCacheModes(values.caches, "--caches"),
        skip: new Set(values.skip.split(",").map((s) => s.trim().toLowerCase()).filter(Boolean)),
        prompt: promptLength,
        block,
        maxLength: m.maxLength,
        growthCanvases: ints("growth", values.growth),
        growthCaches: parseCacheModes(values["growth-caches"], "--growth-caches"),
        growthBatch: Number(values["growth-batch"]),
        growthBlocks: Number(values["growth-blocks"]),
    });
    const describe = (p: PlannedRun) =>
        `${p.sweep === "growth" ? "growth " : ""}${p.mode.name}${p.mode.maxBlocks > 0 ? `/${p.mode.maxBlocks}` : ""} ${p.batch}x${p.genLength} cache ${p.cache}`;
    const report: CacheStepsReport = {
        date: new Date().toISOString(),
        command: `node dist/bench/cacheSteps.js ${process.argv.slice(2).join(" ")}`,
        device: buildInfo.cudaDeviceName || device,
        build: { ...buildInfo },
        model: { path: modelPath, name: m.name, dtype: info.dtype, parameterBytes: info.parameterBytes, fileBytes: loaded.fileBytes, loadMs, methods: loaded.methods },
        promptLength,
        blockLength: block,
        tpf,
        cudaGraph: device === "cuda" && !values.eager,
        warmup: !values["no-warmup"],
        reference: REFERENCE,
        plan: runs.map(describe),
        runs: [],
        growth: [],
        skipped: left,
        errors: [],
        seconds: 0,
    };
    const ctx: Ctx = {
        model: loaded.model,
        newToken: () => new addon.AbortToken(),
        prompt,
        promptLength,
        block,
        tpf,
        maskId: m.maskId,
        cudaGraph: report.cudaGraph,
        warmup: report.warmup,
        legacyOk: values["legacy-ok"] === true,
    };
    let msPerToken: number | null = null;
    try {
        for (const p of runs) {
            const name = describe(p);
            const estimate = estimateSeconds(p, msPerToken, promptLength, block, ctx.warmup);
            if (budget > 0 && (elapsed() > budget || (estimate !== null && elapsed() + estimate > budget))) {
                report.skipped.push({ run: name, reason: `time budget of ${budget} s (${elapsed().toFixed(0)} s spent, about ${estimate === null ? "?" : estimate.toFixed(0)} s needed)` });
                log(`${name}: skipped (time budget)`);
                continue;
            }
            try {
                const row = await measureRun(ctx, p);
                (p.sweep === "growth" ? report.growth : report.runs).push(row);
                if (row.fullMsPerStep !== null) msPerToken = Math.max(msPerToken ?? 0, row.fullMsPerStep / (row.batch * row.canvas));
                log(
                    `${name}: ${row.blocksRun}/${row.blocks} blocks, ${row.fullSteps} full steps ${f(row.fullMsPerStep)} ms, ${row.cachedSteps} cached ${f(row.cachedMsPerStep)} ms, ` +
                        `measured ${f(row.msPerStep)} ms/step, block avg @ TPF ${tpf} ${f(row.blockAveraged.tpf.ms)} ms (${f(row.blockAveraged.tpf.tokensPerSecond, 0)} tok/s), ` +
                        `graph ${row.cudaGraph}${row.cudaGraphFallbackReason ? ` (${row.cudaGraphFallbackReason})` : ""}` +
                        (row.warnings.length > 0 ? `; WARNING ${row.warnings.join("; ")}` : ""),
                );
            } catch (error) {
                const e = error as Error & { code?: string };
                report.errors.push(`${name}: ${e.code ? `${e.code}: ` : ""}${e.message}`);
                log(`${name}: FAILED ${e.code ?? ""} ${e.message}`);
                if (/predates the KV cache/.test(e.message)) break; // every later run would say the same
            }
            report.seconds = elapsed();
            writeOutputs(out, svgPath, report); // after every run: a timeout keeps what was measured
        }
    } finally {
        report.seconds = elapsed();
        writeOutputs(out, svgPath, report);
        await loaded.model.dispose();
    }
    process.stdout.write(reportMarkdown(report));
    if (report.errors.length > 0) {
        console.error(`CACHE STEPS FAILED: ${report.errors.length} errors (${out})`);
        process.exitCode = 1;
    }
}

if (require.main === module) {
    main().catch((error) => {
        console.error("CACHE STEPS FAILED:", error);
        process.exit(1);
    });
}
