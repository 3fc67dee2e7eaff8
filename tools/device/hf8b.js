#!/usr/bin/env node
// LLaDA-8B-sized model from Node through the public API (tools/device/hf8b.sh runs it):
// loadModel on CUDA, then generate() with localleap's defaults (strategy localleap, blockLength 32,
// CUDA graphs) at prompt 128 + gen 256 and 512, one warm-up per shape (the graph capture).
// Usage: node tools/device/hf8b.js MODEL.pt OUT.json
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { performance } = require("node:perf_hooks");

const root = path.join(__dirname, "..", "..");
const { loadModel } = require(path.join(root, "dist", "lib", "index.js"));

const stamp = () => new Date().toISOString().slice(11, 19);
const log = (msg) => console.log(`[${stamp()}] ${msg}`);

async function main() {
    const [modelPath, out = "hf8b-node.json"] = process.argv.slice(2);
    if (!modelPath) throw new Error("usage: node tools/device/hf8b.js MODEL.pt OUT.json");
    const result = { pid: process.pid, modelPath, runs: [] };
    log(`loading ${modelPath} (pid ${process.pid})`);
    const t0 = performance.now();
    const model = await loadModel({ modelPath, device: process.env.HF8B_DEVICE || "cuda" });
    result.loadMs = performance.now() - t0;
    const { metadata, device, dtype, parameterBytes, fileBytes, build } = model.info;
    Object.assign(result, { device, dtype, parameterBytes, fileBytes, cudaDeviceName: build.cudaDeviceName, variant: build.variantName, vocabSize: metadata.vocabSize });
    log(`loaded in ${(result.loadMs / 1000).toFixed(1)} s: ${device} ${dtype}, ${(parameterBytes / 2 ** 30).toFixed(2)} GiB of parameters, ${build.cudaDeviceName}`);

    // 128 ordinary token ids (below the special tokens, never the mask).
    const special = new Set([metadata.maskId, ...metadata.endIds]);
    const prompt = [];
    for (let i = 0; prompt.length < 128; i++) {
        const id = (1000 + i * 7919) % Math.min(metadata.vocabSize, 100000);
        if (!special.has(id)) prompt.push(id);
    }
    for (const genLength of [256, 512]) {
        const options = { genLength };
        let t = performance.now();
        const warm = await model.generate(prompt, options);
        const warmMs = performance.now() - t;
        const runs = [];
        for (let k = 0; k < 2; k++) runs.push(await model.generate(prompt, options));
        const best = runs.reduce((a, b) => (a.timings.msPerStep <= b.timings.msPerStep ? a : b));
        const row = {
            promptTokens: best.promptTokens, genLength, steps: best.steps, msPerStep: best.timings.msPerStep,
            totalMs: best.timings.totalMs, tokensPerSecond: best.timings.tokensPerSecond, cudaGraph: best.cudaGraph,
            cudaGraphFallbackReason: best.cudaGraphFallbackReason, warmupMs: warmMs, warmupCudaGraph: warm.cudaGraph,
            msPerStepRuns: runs.map((r) => r.timings.msPerStep),
        };
        result.runs.push(row);
        log(`prompt ${row.promptTokens} + gen ${genLength}: ${row.steps} steps, ${row.msPerStep.toFixed(2)} ms/step, ` +
            `${(row.totalMs / 1000).toFixed(2)} s, ${row.tokensPerSecond.toFixed(1)} tok/s, CUDA graph ${row.cudaGraph}` +
            (row.cudaGraphFallbackReason ? ` (${row.cudaGraphFallbackReason})` : "") + `; warm-up ${(warmMs / 1000).toFixed(2)} s`);
    }
    await model.dispose();
    fs.writeFileSync(out, JSON.stringify(result, null, 2));
}

main().catch((error) => {
    console.error(error);
    process.exit(1);
});
