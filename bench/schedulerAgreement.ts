// Issue 13, bfloat16 on a GPU: how often a request decoded by the scheduler beside others gives
// the tokens it gives alone, and whether held-out accuracy moves. Decodes --problems held-out
// problems once one at a time (solo) and once with all of them submitted at once (batched; the
// scheduler takes up to --max-batch rows per forward), then reports: calls with identical tokens,
// the mean fraction of identical token positions, accuracy solo and batched, and the paired
// changes (right -> wrong, wrong -> right) with an exact sign-test p-value.
//
//   node dist/bench/schedulerAgreement.js --model M.pt [--device cuda] [--problems 500]
//        [--gen 256] [--block 32] [--cache none] [--max-batch 32] [--out agreement.json]
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { type CacheMode, type GenerateResult, loadModel } from "../lib";
import { extractAnswer } from "../lib/calibrate/answerChecker";
import { loadProblems } from "./accuracy/problems";
import { problemMessages } from "./accuracy/prompt";

/** Two-sided exact sign test on b successes of n (p = 0.5). */
function signTest(b: number, n: number): number {
    if (n === 0) return 1;
    const k = Math.min(b, n - b);
    let tail = 0, term = Math.pow(0.5, n);
    for (let i = 0; i <= k; i++) {
        tail += term;
        term = (term * (n - i)) / (i + 1);
    }
    return Math.min(1, 2 * tail);
}

async function main(): Promise<void> {
    const { values } = parseArgs({
        options: {
            model: { type: "string" },
            device: { type: "string", default: "cuda" },
            problems: { type: "string", default: "500" },
            gen: { type: "string", default: "256" },
            block: { type: "string", default: "32" },
            cache: { type: "string", default: "none" },
            "max-batch": { type: "string", default: "32" },
            out: { type: "string" },
        },
    });
    if (values.model === undefined) throw new Error("--model is required");
    const model = await loadModel({ modelPath: values.model, device: values.device as "cpu" | "cuda", maxBatchSize: Number(values["max-batch"]),
        maxQueuedGenerations: Math.max(1024, Number(values.problems)) }); // every problem is submitted at once
    const problems = loadProblems(undefined, Number(values.problems));
    const options = { strategy: "localleap", genLength: Number(values.gen), blockLength: Number(values.block), stopAtEos: true, cache: values.cache as CacheMode } as const;
    try {
        const solo: GenerateResult[] = [];
        for (const p of problems) solo.push(await model.generate(problemMessages(p.question), options));
        const batched = await Promise.all(problems.map((p) => model.generate(problemMessages(p.question), options)));
        let identical = 0, positionShare = 0, rightSolo = 0, rightBatched = 0, lost = 0, gained = 0, rows = 0;
        problems.forEach((p, i) => {
            const a = solo[i] as GenerateResult, b = batched[i] as GenerateResult;
            const same = a.tokens.length === b.tokens.length && a.tokens.every((t, j) => t === b.tokens[j]);
            if (same) identical++;
            const n = Math.max(a.tokens.length, b.tokens.length, 1);
            let agree = 0;
            for (let j = 0; j < Math.min(a.tokens.length, b.tokens.length); j++) if (a.tokens[j] === b.tokens[j]) agree++;
            positionShare += agree / n;
            const okA = extractAnswer(a.text) === BigInt(p.answer), okB = extractAnswer(b.text) === BigInt(p.answer);
            if (okA) rightSolo++;
            if (okB) rightBatched++;
            if (okA && !okB) lost++;
            if (!okA && okB) gained++;
            rows += b.timings.meanRowsPerForward;
        });
        const n = problems.length;
        const report = {
            model: values.model, device: values.device, dtype: model.info.dtype, options, problems: n,
            identicalCalls: identical / n, meanIdenticalPositions: positionShare / n,
            accuracySolo: rightSolo / n, accuracyBatched: rightBatched / n, rightToWrong: lost, wrongToRight: gained,
            signTestP: signTest(gained, lost + gained), meanRowsPerForward: rows / n,
        };
        console.log(JSON.stringify(report, null, 2));
        if (values.out !== undefined) writeFileSync(values.out, `${JSON.stringify(report, null, 2)}\n`);
    } finally {
        await model.dispose();
    }
}

main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
});
