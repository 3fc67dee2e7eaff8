// The long soak: 1000 generations aborted at seeded random moments (RSS before/after) and 100
// concurrent generate() calls compared with the same calls made one by one.
// Usage: npx tsx bench/soak.ts [MODEL.pt] (default: the llada test fixture)
import { loadModel } from "../lib";
import { concurrentVsSequential, runAbortSoak } from "../test/support/abortSoak";
import { LLADA_FIXTURE } from "../test/support/fixtures";

async function main(): Promise<void> {
    const modelPath = process.argv[2] ?? LLADA_FIXTURE;
    const model = await loadModel({ modelPath, device: "cpu", threads: 1 });
    try {
        const soak = await runAbortSoak(model, 1000, 20261201, 50);
        const MiB = 1024 * 1024;
        console.log(`aborts: ${soak.generations} generations, ${soak.aborted} aborted, ${soak.completed} completed, other errors ${soak.otherErrors.length}; ` +
            `RSS ${(soak.rssStartBytes / MiB).toFixed(0)} -> ${(soak.rssEndBytes / MiB).toFixed(0)} MiB; max abort latency ${soak.maxAbortLatencyMs.toFixed(1)} ms; ${(soak.wallMs / 1000).toFixed(1)} s`);
        const c = await concurrentVsSequential(model, 100);
        const equal = c.concurrent.every((tokens, i) => JSON.stringify(tokens) === JSON.stringify(c.sequential[i]));
        console.log(`concurrency: 100 concurrent calls ${equal ? "equal" : "DIFFER FROM"} the same calls made one by one; ${(c.concurrentMs / 1000).toFixed(1)} s concurrent, ${(c.sequentialMs / 1000).toFixed(1)} s sequential`);
        if (soak.otherErrors.length > 0 || !equal || soak.rssEndBytes - soak.rssStartBytes > 64 * MiB) process.exitCode = 1;
    } finally {
        await model.dispose();
    }
}

void main();
