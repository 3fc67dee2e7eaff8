// The embedded model's AR partner as shipped (models/reference-ar, exported here float32 by
// tools/export.py): it passes APD's vocabulary check against the embedded dLLM, and APD with it
// answers held-out problems on the CPU in a handful of steps (BENCHMARKS §12 has the GPU table).
import { expect, jest, test } from "@jest/globals";
import { loadProblems } from "../../bench/accuracy/problems";
import { extractAnswer } from "../../lib/calibrate/answerChecker";
import { loadModel } from "../../lib/loadModel";
import { REFERENCE_AR, ensureReferenceAr } from "../support/fixtures";

jest.setTimeout(120_000);

test("APD with models/reference-ar beside the embedded model answers held-out problems in few steps (CPU, greedy)", async () => {
    ensureReferenceAr();
    const model = await loadModel({ device: "cpu", apd: { arModelPath: REFERENCE_AR } });
    try {
        expect(model.info.apd).toBeDefined();
        const problems = loadProblems(undefined, 6);
        const results = await model.generate(problems.map((p) => p.question),
            { strategy: "apd", genLength: 128, mixtureWeight: 0.5, kvWindow: 16, maxLookahead: 100, stopAtEos: true });
        results.forEach((r, i) => {
            const gold = problems[i]!.answer;
            expect({ id: problems[i]!.id, answer: extractAnswer(r.text) }).toEqual({ id: problems[i]!.id, answer: BigInt(gold) });
            expect(r.finishReason).toBe("eos");
            // One dLLM and at most one causal-LM forward per step; an answer of ~60 tokens in a
            // handful of steps (the one-token-per-step baseline would take ~60).
            expect(r.steps).toBeLessThanOrEqual(15);
            expect(r.arForwards).toBeLessThanOrEqual(r.steps);
            expect(r.acceptedPerStep).toHaveLength(r.steps);
        });
    } finally {
        await model.dispose();
    }
});
