// The engine's step (forward + fused kernel + status read) against the bare block forward of the
// same model, both eager and CUDA-graph-captured, synchronised per step in both cases.
// Usage: node dist/bench/stepOverhead.js MODEL.pt OUT.json [promptLength genLengths blockLength batch]
// (genLengths: one or several, comma-separated; the model loads once)
import { writeFileSync } from "node:fs";
import { getAddon } from "../lib/bindings/getAddon";
import { ordinaryPrompt } from "./syntheticPrompt";

async function main(): Promise<void> {
    const [modelPath, out = "step-overhead.json", p = "128", g = "256", lb = "32", b = "1"] = process.argv.slice(2);
    if (!modelPath) throw new Error("usage: stepOverhead.js MODEL.pt OUT.json [promptLength genLength blockLength batch]");
    const promptLength = Number(p), blockLength = Number(lb), batch = Number(b);
    const genLengths = g.split(",").map(Number);
    const { addon, buildInfo } = await getAddon({ device: "cuda" });
    const loaded = await addon.loadModel({ path: modelPath, device: "cuda", threads: 0 });
    const m = JSON.parse(loaded.metadataJson);
    const info = await loaded.model.configure({ vocabSize: m.vocabSize, maskId: m.maskId, eosId: m.eosId, endIds: m.endIds, padId: m.padId, logitsShifted: m.logitsShifted, maxLength: m.maxLength, ...(m.kvCache && { kvCache: m.kvCache }) });
    const prompt = ordinaryPrompt(m, promptLength); // ordinary tokens: never the mask or an end token
    const rows: Record<string, number | string>[] = [];
    for (const genLength of genLengths) {
        const results: Record<string, number | string> = { model: m.name, dtype: info.dtype, promptLength, genLength, blockLength, batch, device: buildInfo.cudaDeviceName };
        for (const cudaGraph of [false, true]) {
            const fwd = await loaded.model.benchForward({ batch, promptLength, genLength, blockLength, iterations: 50, cudaGraph });
            const request = {
                prompts: Array.from({ length: batch }, () => prompt), genLength, blockLength, strategy: "low-confidence" as const,
                steps: genLength, threshold: 0.9, anchorThreshold: 0.9, relaxedThreshold: 0.75, radius: 4, temperature: 0,
                seeds: Array.from({ length: batch }, () => 0), stopAtEos: false, cudaGraph,
            };
            await loaded.model.generate(request); // warm-up: the first generation of a shape captures its graph
            const gen = await loaded.model.generate(request);
            const stepMs = gen.stepMs / gen.batchSteps;
            const key = cudaGraph ? "graph" : "eager";
            results[`${key}ForwardMs`] = fwd.medianMs;
            results[`${key}StepMs`] = stepMs;
            results[`${key}OverheadPct`] = (stepMs / fwd.medianMs - 1) * 100;
            if (cudaGraph) results.graphUsed = String(gen.cudaGraph) + (gen.cudaGraphFallbackReason ? ` (${gen.cudaGraphFallbackReason})` : "");
            console.log(`gen ${genLength} ${key}: bare forward ${fwd.medianMs.toFixed(3)} ms, engine step ${stepMs.toFixed(3)} ms (${((stepMs / fwd.medianMs - 1) * 100).toFixed(1)}% overhead)`);
        }
        rows.push(results);
    }
    await loaded.model.dispose();
    writeFileSync(out, JSON.stringify(rows.length === 1 ? rows[0] : rows, null, 2));
}

main().catch((error) => {
    console.error(error);
    process.exit(1);
});
