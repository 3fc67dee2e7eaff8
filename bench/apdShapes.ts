// ms per APD step at a dLLM + causal-LM pair's shapes (issue 16; tools/device/apd-shapes.sh runs it
// on random-weight Dream-v0-7B + Qwen2.5-0.5B archives), next to the dLLM's step alone, through the
// public API: loadModel({ modelPath, apd: { arModelPath } }) once, then generate() per row.
//   - the dLLM alone: low-confidence with steps = genLength (one token per step, a fixed step count
//     whatever the weights), no cache eager and graph-captured (APD's forwards run without CUDA
//     graphs, so "eager" is its like-for-like), and the model's default cache graph-captured;
//   - APD at each R x W (M fixed): ms per APD step = the call's time / its dLLM forwards, with the
//     dLLM and causal-LM forwards and the tokens accepted per step. APD's step count depends on
//     the weights (random ones accept little): it is reported as measured, not fixed.
// Floors: weight bytes read per step / bandwidth (the nominal HBM figure, and a measured copy
// bandwidth when given): the dLLM's bytes for its step; for an APD step the dLLM's plus the causal
// LM's times its forwards per step. Rows past --budget-s are skipped (and listed as skipped).
// Usage: node dist/bench/apdShapes.js --model DLLM.pt --ar-model AR.pt --out DIR [--device cuda]
//   [--prompt 128] [--gen 256] [--r 0.7,0.9] [--w 16,null] [--m 100] [--ar-bytes N]
//   [--hbm-gbps 4800] [--copy-gbps G] [--budget-s 200] [--label TEXT]
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { loadModel } from "../lib";
import type { GenerateOptions, GenerateResult } from "../lib";
import { ordinaryPrompt } from "./syntheticPrompt";

const stamp = () => new Date().toISOString().slice(11, 19);
const log = (msg: string) => console.log(`[${stamp()}] ${msg}`);

interface Row {
    name: string;
    kind: "dllm" | "apd";
    options: Record<string, unknown>;
    skipped?: string;
    warmupMs?: number;
    totalMs?: number;
    steps?: number;
    msPerStep?: number;
    dllmForwards?: number;
    arForwards?: number;
    tokensPerStep?: number;
    tokensPerSecond?: number;
    cudaGraph?: boolean;
    cudaGraphFallbackReason?: string;
    floorBytes?: number;
    floorMs?: number;
    floorCopyMs?: number;
}

async function main(): Promise<void> {
    const { values } = parseArgs({
        options: {
            model: { type: "string" }, "ar-model": { type: "string" }, out: { type: "string" },
            device: { type: "string", default: "cuda" }, prompt: { type: "string", default: "128" },
            gen: { type: "string", default: "256" }, r: { type: "string", default: "0.7,0.9" },
            w: { type: "string", default: "16,null" }, m: { type: "string", default: "100" },
            "ar-bytes": { type: "string" }, "hbm-gbps": { type: "string", default: "4800" },
            "copy-gbps": { type: "string" }, "budget-s": { type: "string", default: "200" },
            label: { type: "string", default: "" },
        },
    });
    if (!values.model || !values["ar-model"] || !values.out) throw new Error("usage: apdShapes.js --model DLLM.pt --ar-model AR.pt --out DIR [...]");
    const t0 = performance.now();
    const deadline = t0 + Number(values["budget-s"]) * 1000;
    const device = values.device as "cuda" | "cpu";
    const promptLength = Number(values.prompt), genLength = Number(values.gen), maxLookahead = Number(values.m);
    const rs = values.r.split(",").map(Number);
    const ws = values.w.split(",").map((w) => (w === "null" ? null : Number(w)));
    const hbm = Number(values["hbm-gbps"]) * 1e9;
    const copy = values["copy-gbps"] ? Number(values["copy-gbps"]) * 1e9 : null;
    // The causal LM's weight bytes: given (its export's parameter count x element size) or its archive's size.
    const arBytes = values["ar-bytes"] ? Number(values["ar-bytes"]) : statSync(values["ar-model"]).size;

    log(`loading ${values.model} with the causal LM ${values["ar-model"]} on ${device}`);
    const model = await loadModel({ modelPath: values.model, device, apd: { arModelPath: values["ar-model"] } });
    const loadMs = performance.now() - t0;
    const { metadata, dtype, parameterBytes, build, defaultCache, apd } = model.info;
    log(`loaded in ${(loadMs / 1000).toFixed(1)} s: ${dtype}, dLLM ${(parameterBytes / 2 ** 30).toFixed(2)} GiB, causal LM ${(arBytes / 2 ** 30).toFixed(2)} GiB, ` +
        `vocab ${metadata.vocabSize}, APD width ${apd?.vocabWidth}, default cache ${defaultCache}, ${build.cudaDeviceName || device}`);
    // Below APD's shared width too (the causal LM reads the prompt: ids from the width up are rejected).
    const prompt = ordinaryPrompt(metadata, promptLength, Math.min(1000, apd?.vocabWidth ?? 1000));
    const floors = (bytes: number) => ({ floorBytes: bytes, floorMs: (bytes / hbm) * 1000, ...(copy && { floorCopyMs: (bytes / copy) * 1000 }) });

    const plan: { name: string; kind: Row["kind"]; options: GenerateOptions }[] = [];
    const lc = { strategy: "low-confidence", genLength, steps: genLength, stopAtEos: false } as const;
    plan.push({ name: "low-confidence, no cache, eager", kind: "dllm", options: { ...lc, cache: "none", cudaGraph: false } });
    plan.push({ name: "low-confidence, no cache, CUDA graph", kind: "dllm", options: { ...lc, cache: "none" } });
    if (defaultCache !== "none") plan.push({ name: `low-confidence, ${defaultCache} cache, CUDA graph`, kind: "dllm", options: { ...lc, cache: defaultCache } });
    for (const kvWindow of ws) {
        for (const mixtureWeight of rs) {
            plan.push({
                name: `APD R ${mixtureWeight}, W ${kvWindow ?? "null"}, M ${maxLookahead}`, kind: "apd",
                options: { strategy: "apd", genLength, mixtureWeight, kvWindow, maxLookahead, stopAtEos: false },
            });
        }
    }

    const rows: Row[] = [];
    for (const { name, kind, options } of plan) {
        const row: Row = { name, kind, options: { ...options } };
        rows.push(row);
        const left = deadline - performance.now();
        if (left < 1000) {
            row.skipped = "past the budget";
            log(`${name}: skipped (past the budget)`);
            continue;
        }
        let t = performance.now();
        await model.generate(prompt, options); // warm-up: graph capture, cache allocation
        row.warmupMs = performance.now() - t;
        // The timed run only when it fits what is left (a warm-up's time bounds it from above).
        if (row.warmupMs > deadline - performance.now()) {
            row.skipped = `timed run would pass the budget (warm-up ${(row.warmupMs / 1000).toFixed(1)} s)`;
            log(`${name}: ${row.skipped}`);
            continue;
        }
        t = performance.now();
        const r = (await model.generate(prompt, options)) as GenerateResult;
        const wallMs = performance.now() - t;
        row.totalMs = r.timings.totalMs;
        row.cudaGraph = r.cudaGraph;
        row.cudaGraphFallbackReason = r.cudaGraphFallbackReason;
        row.tokensPerSecond = r.timings.tokensPerSecond;
        if (kind === "apd") {
            const d = r.dllmForwards ?? r.steps, a = r.arForwards ?? 0;
            const accepted = (r.acceptedPerStep ?? []).reduce((x, y) => x + y, 0);
            Object.assign(row, {
                steps: d, dllmForwards: d, arForwards: a, msPerStep: r.timings.totalMs / d, tokensPerStep: accepted / d,
                ...floors(parameterBytes + (arBytes * a) / d),
            });
        } else {
            Object.assign(row, { steps: r.steps, dllmForwards: r.steps, arForwards: 0, msPerStep: r.timings.msPerStep, tokensPerStep: genLength / r.steps, ...floors(parameterBytes) });
        }
        log(`${name}: ${row.steps} dLLM forwards, ${row.arForwards} causal-LM forwards, ${row.tokensPerStep!.toFixed(2)} tokens/step, ` +
            `${row.msPerStep!.toFixed(2)} ms/step (floor ${row.floorMs!.toFixed(2)} ms), ${(row.totalMs / 1000).toFixed(2)} s (wall ${(wallMs / 1000).toFixed(2)} s), ` +
            `CUDA graph ${row.cudaGraph}${row.cudaGraphFallbackReason ? ` (${row.cudaGraphFallbackReason})` : ""}`);
    }
    await model.dispose();

    mkdirSync(values.out, { recursive: true });
    const result = {
        label: values.label, device, cudaDeviceName: build.cudaDeviceName, variant: build.variantName, dtype,
        dllm: { path: values.model, name: metadata.name, vocabSize: metadata.vocabSize, parameterBytes },
        ar: { path: values["ar-model"], bytes: arBytes, vocabWidth: apd?.vocabWidth },
        promptTokens: promptLength, genLength, maxLookahead, loadMs, hbmGBps: hbm / 1e9, copyGBps: copy && copy / 1e9, rows,
    };
    writeFileSync(path.join(values.out, "apd-shapes.json"), JSON.stringify(result, null, 2));
    const f = (x: number | undefined, d = 2) => (x === undefined ? "" : x.toFixed(d));
    const copyCol = copy ? ` | floor at ${(copy / 1e9).toFixed(0)} GB/s (measured copy)` : "";
    const lines = [
        `${values.label || metadata.name}: ${build.cudaDeviceName || device} (${build.variantName}), ${dtype}, batch 1, prompt ${promptLength} + gen ${genLength}; ` +
            `dLLM ${(parameterBytes / 1e9).toFixed(2)} GB of weights, causal LM ${(arBytes / 1e9).toFixed(2)} GB, APD width ${apd?.vocabWidth}. ` +
            `Random weights: timing only (APD's accepted tokens per step say nothing about real drafts).`,
        "",
        `| configuration | dLLM forwards | causal-LM forwards | tokens / step | ms / step | floor at ${(hbm / 1e12).toFixed(1)} TB/s${copyCol} | step / floor | call s | CUDA graph |`,
        `|---|---|---|---|---|---|${copy ? "---|" : ""}---|---|---|`,
    ];
    for (const r of rows) {
        if (r.skipped) {
            lines.push(`| ${r.name} | skipped: ${r.skipped} |||||${copy ? "|" : ""}|||`);
            continue;
        }
        lines.push(`| ${r.name} | ${r.dllmForwards} | ${r.arForwards} | ${f(r.tokensPerStep)} | ${f(r.msPerStep)} | ${f(r.floorMs, 3)} ms` +
            `${copy ? ` | ${f(r.floorCopyMs, 3)} ms` : ""} | ${f(r.msPerStep! / r.floorMs!, 1)}× | ${f(r.totalMs! / 1000)} | ${r.cudaGraph} |`);
    }
    lines.push("", "ms / step: APD rows, the call's time / its dLLM forwards (one APD step = one dLLM forward + at most one causal-LM forward); " +
        "low-confidence rows, the engine's time in steps / steps. Floors: weight bytes read per step / bandwidth.");
    writeFileSync(path.join(values.out, "apd-shapes.md"), lines.join("\n") + "\n");
    console.log(lines.join("\n"));
}

main().catch((error) => {
    console.error(error);
    process.exit(1);
});
