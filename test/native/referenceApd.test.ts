// The embedded model's causal LM as shipped (models/reference-ar, exported by npm run setup and by
// prepack like the model): `apd: {}` loads it beside the embedded model, its vocabulary check
// passes, and APD with it answers held-out problems on the CPU in a handful of steps (BENCHMARKS
// §12 has the GPU table); with another model it must be named; the CLI's --strategy apd uses it.
import { expect, jest, test } from "@jest/globals";
import { loadProblems } from "../../bench/accuracy/problems";
import { extractAnswer } from "../../lib/calibrate/answerChecker";
import { InvalidOptionsError } from "../../lib/errors";
import { loadModel } from "../../lib/loadModel";
import { defaultArModelPath } from "../../lib/utils/defaultModelPath";
import { LLADA_FIXTURE } from "../support/fixtures";
import { runCli } from "../support/runCli";

jest.setTimeout(120_000);

test("apd: {} loads the embedded causal LM; APD with it answers held-out problems in few steps (CPU, greedy)", async () => {
    const model = await loadModel({ device: "cpu", apd: {} });
    try {
        expect(model.info.apd?.arModelPath).toBe(defaultArModelPath());
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

test("apd: {} with a modelPath is InvalidOptionsError on apd.arModelPath (the embedded causal LM pairs with the embedded model only)", async () => {
    const error = await loadModel({ modelPath: LLADA_FIXTURE, device: "cpu", apd: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect((error as InvalidOptionsError).issues[0]!.field).toBe("apd.arModelPath");
    expect((error as Error).message).toContain("pairs with the embedded model only");
});

test("localleap generate --strategy apd uses the embedded causal LM", async () => {
    const problem = loadProblems(undefined, 1)[0]!;
    const r = await runCli(["generate", "--device", "cpu", "--strategy", "apd", "--gen-length", "128", problem.question]);
    expect(r.stderr).toMatch(/steps: \d+/);
    expect(r.code).toBe(0);
    expect(extractAnswer(r.stdout)).toBe(BigInt(problem.answer));
    const refused = await runCli(["generate", "--model", LLADA_FIXTURE, "--device", "cpu", "--strategy", "apd", "--gen-length", "32", "x"]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("apd.arModelPath is required with a modelPath");
});
