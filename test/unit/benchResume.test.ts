// bench/run.ts --resume: an interrupted run's finished rows are kept only for the same measurement.
import { describe, expect, test } from "@jest/globals";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { gzipSync } from "node:zlib";
import path from "node:path";
import type { BenchMeta, BenchReport } from "../../bench/accuracy/report";
import { reportMarkdown } from "../../bench/accuracy/report";
import { resumableRows } from "../../bench/accuracy/resume";
import type { ConfigSummary } from "../../bench/accuracy/summarize";
import { parseBenchArgs } from "../../bench/run";

const meta: BenchMeta = {
    date: "2026-12-02T00:00:00.000Z",
    command: "node dist/bench/run.js --gen 256",
    model: { name: "localleap-reference", path: "/tmp/m.pt", dtype: "bfloat16", device: "cuda", parameterBytes: 1 },
    build: { variantName: "cuda13.0-torch2.11", torchVersion: "2.11", cudaVersion: "13.0", cudaDeviceName: "NVIDIA H200" },
    host: { cpus: 16, cpuModel: "x", threads: 0, node: "v20", platform: "linux-x64", hostname: "h", loadAverageAtStart: [0, 0, 0] },
    problems: { file: "bench/data/heldout.jsonl", count: 2000, first: "heldout:0", last: "heldout:1999" },
    batch: 1000,
    timingNote: "",
};
const row = (name: string) => ({ name, family: "threshold", description: name, genLength: 256, blockLength: 32, options: {}, n: 2000, accuracy: 84.2 }) as unknown as ConfigSummary;

function saved(m: BenchMeta, names: string[]): string {
    const report: BenchReport = { meta: m, main: { problems: 2000, configs: names.map(row), aup: [], skipped: [] }, seconds: 1 };
    const file = path.join(mkdtempSync(path.join(tmpdir(), "resume-")), "bench.json");
    writeFileSync(file, JSON.stringify(report));
    return file;
}

describe("bench --resume", () => {
    test("keeps the earlier rows this run asks for, and says where they come from", () => {
        const file = saved(meta, ["lc-256", "threshold-256", "localleap-256"]);
        const r = resumableRows(file, { ...meta, date: "later" }, ["threshold-256", "learned-256-a0.9", "lc-256"]);
        expect(r.rows.map((c) => c.name)).toEqual(["lc-256", "threshold-256"]);
        expect(r.from).toEqual({ date: meta.date, command: meta.command, rows: ["lc-256", "threshold-256"] });
        const md = reportMarkdown({ meta: { ...meta, resumedFrom: r.from }, main: { problems: 2000, configs: [], aup: [], skipped: [] }, seconds: 1 });
        expect(md).toContain("- resumed: lc-256, threshold-256 come from the run of 2026-12-02T00:00:00.000Z");
    });

    test("reads a gzipped bench.json (as results are committed)", () => {
        const file = saved(meta, ["lc-256"]);
        writeFileSync(`${file}.gz`, gzipSync(readFileSync(file)));
        expect(resumableRows(`${file}.gz`, meta, ["lc-256"]).rows.map((c) => c.name)).toEqual(["lc-256"]);
    });

    test("refuses a run of other problems, batch, model or binary, naming what differs", () => {
        const other = saved({ ...meta, batch: 500, model: { ...meta.model, dtype: "float32" } }, ["lc-256"]);
        expect(() => resumableRows(other, meta, ["lc-256"])).toThrow(/batch 500 there, 1000 here; model dtype "float32" there, "bfloat16" here/);
        const fewer = saved({ ...meta, problems: { ...meta.problems, count: 40, last: "heldout:39" } }, ["lc-256"]);
        expect(() => resumableRows(fewer, meta, ["lc-256"])).toThrow(/problem count 40 there, 2000 here/);
    });

    test("refuses a file that is not a bench.json", () => {
        const dir = mkdtempSync(path.join(tmpdir(), "resume-"));
        writeFileSync(path.join(dir, "bad.json"), "{ nope");
        expect(() => resumableRows(path.join(dir, "bad.json"), meta, [])).toThrow(/not a readable bench.json/);
        writeFileSync(path.join(dir, "other.json"), "{}");
        expect(() => resumableRows(path.join(dir, "other.json"), meta, [])).toThrow(/not a bench.json written by bench\/run.ts/);
        expect(() => resumableRows(path.join(dir, "missing.json"), meta, [])).toThrow(/not a readable bench.json/);
    });

    test("--resume is parsed", () => {
        expect(parseBenchArgs(["--resume", "old/bench.json"]).resume).toBe("old/bench.json");
    });
});
