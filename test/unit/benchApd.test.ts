// The APD rows of the accuracy benchmark (bench --apd --ar-model): configurations, what they
// count as committed tokens, and the flags.
import { describe, expect, test } from "@jest/globals";
import { apd, apdConfigs } from "../../bench/accuracy/configs";
import type { RowResult } from "../../bench/accuracy/runner";
import { type BenchMeta, reportMarkdown } from "../../bench/accuracy/report";
import { summarize } from "../../bench/accuracy/summarize";
import { parseBenchArgs } from "../../bench/run";
import { parseGenerateOptions } from "../../lib/options";

const META: BenchMeta = {
    date: "d", command: "c", model: { name: "m", path: "p", dtype: "float32", device: "cpu", parameterBytes: 1 },
    build: { variantName: "cpu-torch1.13", torchVersion: "1.13", cudaVersion: "", cudaDeviceName: "" },
    host: { cpus: 2, cpuModel: "x", threads: 0, node: "v20", platform: "linux-x64", hostname: "h", loadAverageAtStart: [0, 0, 0] },
    problems: { file: "f", count: 2, first: "a", last: "b" }, batch: 2, timingNote: "",
};

const row = (id: string, accepted: number[], ar: number): RowResult => ({
    id, gold: 1, pred: 1n, correct: true, steps: accepted.length, stepsPerBlock: [accepted.length], blockLengths: [256],
    answerTokens: accepted.reduce((a, b) => a + b, 0) - 1, finishReason: "eos", promptTokens: 40, text: "#### 1",
    arForwards: ar, acceptedPerStep: accepted,
});

describe("bench: APD configurations", () => {
    test("names, family and generate() options; each one passes the option parser", () => {
        const all = apdConfigs(256);
        expect(all.map((c) => c.name)).toEqual(["apd-256-r0.5", "apd-256-r0.7", "apd-256-r0.9", "apd-256-r1", "apd-256-r0.7-wnone", "apd-256-r0.7-m10", "apd-256-r0.7-m25", "apd-256-r0.7-m50"]);
        expect(all.every((c) => c.family === "apd")).toBe(true);
        expect(apd(256, 0.7, 4, 8).options).toMatchObject({ strategy: "apd", mixtureWeight: 0.7, kvWindow: 4, maxLookahead: 8, blockLength: 256, stopAtEos: true });
        expect(apd(256, 0.7, 4, 8).name).toBe("apd-256-r0.7-w4-m8");
        for (const c of all) expect(() => parseGenerateOptions(c.options)).not.toThrow();
    });

    test("TPF counts the tokens APD's steps accepted (not the EOS padding after the stop); AR forwards are averaged", () => {
        const config = apd(256, 0.7);
        const s = summarize({
            config,
            rows: [row("a", [3, 5, 2], 3), row("b", [1, 1, 4, 2], 4)],
            batches: [{ rows: 2, totalMs: 10, msPerStep: 1, batchSteps: 7, wallMs: 11, cudaGraph: false, cudaGraphFallbackReason: "" }],
        });
        expect(s.meanSteps).toBe(3.5);
        expect(s.tpf).toBeCloseTo(18 / 7, 10);
        expect(s.meanArForwards).toBe(3.5);
        expect(s.accuracy).toBe(100);
        const md = reportMarkdown({ meta: META, main: { problems: 2, configs: [s], aup: [], skipped: [] }, seconds: 1 });
        expect(md).toContain("Causal-LM forwards per problem (APD): apd-256-r0.7 3.5.");
    });

    test("--apd needs --ar-model", () => {
        expect(() => parseBenchArgs(["--apd"])).toThrow(/--apd needs --ar-model/);
        expect(parseBenchArgs(["--apd", "--ar-model", "ar.pt"])).toMatchObject({ apd: true, arModelPath: "ar.pt" });
    });
});
