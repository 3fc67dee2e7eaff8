// A short CUDA workload for compute-sanitizer (memcheck, racecheck): the fused kernel on random
// cases of every strategy and dtype, APD's token kernel, a few decode steps eager and graph-replayed, and, given a
// causal LM (argv[3]), APD decodes of a batch of diverging rows (its forwards, caches and accept).
"use strict";
const path = require("node:path");
const root = path.join(__dirname, "..", "..");
const { getAddon } = require(path.join(root, "dist", "lib", "bindings", "getAddon.js"));
const { Prng } = require(path.join(root, "dist", "test", "support", "prng.js"));
const { randomRuleCase, STRATEGIES } = require(path.join(root, "dist", "test", "support", "ruleCases.js"));
const { apdTokensGrid } = require(path.join(root, "dist", "test", "support", "apdTokenCases.js"));

async function main() {
    const { addon } = await getAddon({ device: "cuda" });
    const rng = new Prng(3);
    for (const dtype of ["float32", "bfloat16", "float16"]) {
        for (const strategy of STRATEGIES) {
            for (const [batch, blockLength, vocabSize] of [[2, 8, 301], [3, 32, 8193], [1, 64, 20000]]) {
                addon.applyRule(randomRuleCase(rng, { batch, blockLength, vocabSize, dtype, strategy, temperature: strategy === "random" ? 0.7 : 0 }), "cuda");
            }
        }
    }
    // APD's token kernel (shared-memory reduction): widths below, at and past one CTA's threads.
    for (const [, c] of apdTokensGrid([7, 256, 4099], 3)) addon.applyApdTokens(c, "cuda");
    const model = process.argv[2];
    if (model) {
        const loaded = await addon.loadModel({ path: model, device: "cuda", threads: 0 });
        const m = JSON.parse(loaded.metadataJson);
        await loaded.model.configure({ vocabSize: m.vocabSize, maskId: m.maskId, eosId: m.eosId, endIds: m.endIds, padId: m.padId, logitsShifted: m.logitsShifted, maxLength: m.maxLength,
            ...(m.kvCache && { kvCache: m.kvCache }) });
        // Every cache mode a v2 archive has: full steps, cached steps, their graphs.
        for (const cache of m.kvCache ? ["none", "prefix", "dual"] : ["none"]) {
            for (const cudaGraph of [false, true]) {
                await loaded.model.generate({ prompts: [Int32Array.from([1, 2, 3]), Int32Array.from([4, 5])], genLength: 16, blockLength: 8, strategy: "localleap", steps: 16,
                    threshold: 0.9, anchorThreshold: 0.9, relaxedThreshold: 0.75, radius: 4, temperature: 0, seeds: [1, 2], stopAtEos: false, cudaGraph, cache });
            }
        }
        await loaded.model.dispose();
    }
    const arModel = process.argv[3];
    if (model && arModel) {
        const { loadModel } = require(path.join(root, "dist", "lib", "loadModel.js"));
        const apd = await loadModel({ modelPath: model, device: "cuda", apd: { arModelPath: arModel } });
        const prompts = [[1, 2, 3], [4, 5], [6, 7, 8, 9, 10, 11]];
        for (const kvWindow of [null, 4]) {
            for (const temperature of [0, 0.7]) {
                await apd.generate(prompts, { strategy: "apd", genLength: 24, mixtureWeight: 0.5, kvWindow, maxLookahead: 8, temperature, seed: 5 });
            }
        }
        await apd.dispose();
    }
    console.log("sanitizer workload done");
}

main().catch((e) => { console.error(e); process.exit(1); });
