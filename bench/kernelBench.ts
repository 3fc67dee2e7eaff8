// The fused commit kernel's time per launch on random bf16 logits (CUDA events, median of many
// launches over rotating inputs larger than L2). bench/eager_decision.py times eager PyTorch's
// decision on the same shapes in the same run; bench/compare_kernel.py puts them side by side.
import { writeFileSync } from "node:fs";
import type { AddonDType, AddonStrategy } from "../lib/bindings/AddonTypes";
import { getAddon } from "../lib/bindings/getAddon";

async function main(): Promise<void> {
    const out = process.argv[2] ?? "kernel.json";
    const { addon, buildInfo } = await getAddon({ device: "cuda" });
    const rows: object[] = [];
    const shapes: [number, number, number, AddonDType, AddonStrategy][] = [];
    for (const batch of [1, 2, 4, 8]) shapes.push([batch, 32, 126464, "bfloat16", "localleap"]);
    for (const strategy of ["low-confidence", "threshold", "random"] as AddonStrategy[]) shapes.push([8, 32, 126464, "bfloat16", strategy]);
    shapes.push([8, 32, 126464, "float32", "localleap"], [1, 32, 262144, "bfloat16", "localleap"]);
    for (const [batch, blockLength, vocabSize, dtype, strategy] of shapes) {
        const r = addon.benchKernel({ batch, blockLength, vocabSize, dtype, strategy, iterations: 300, seed: 1 });
        const gbps = r.bytes / (r.medianMs / 1000) / 1e9;
        rows.push({ batch, blockLength, vocabSize, dtype, strategy, medianMs: r.medianMs, minMs: r.minMs, bytes: r.bytes, gbps });
        console.log(`fused kernel [${batch}, ${blockLength}, ${vocabSize}] ${dtype} ${strategy}: median ${(r.medianMs * 1000).toFixed(1)} us, ${gbps.toFixed(0)} GB/s`);
    }
    writeFileSync(out, JSON.stringify({ device: buildInfo.cudaDeviceName, torch: buildInfo.torchVersion, date: new Date().toISOString(), rows }, null, 2));
}

main().catch((error) => {
    console.error(error);
    process.exit(1);
});
