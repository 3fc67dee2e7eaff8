// `--resume bench.json`: a run cut short (time budget, a failure) continues in a new process
// without re-running the rows it finished. A row is kept only when the earlier run measured the
// same thing: same problems, batch, model file contents (name, dtype, device) and binary.
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import type { BenchMeta, BenchReport } from "./report";
import type { ConfigSummary } from "./summarize";

export interface ResumedRows {
    rows: ConfigSummary[];
    from: NonNullable<BenchMeta["resumedFrom"]>;
}

/** A bench.json's text; a name ending in .gz is gunzipped (committed results are kept compressed). */
export function readBenchJson(file: string): string {
    const bytes = readFileSync(file);
    return (file.endsWith(".gz") ? gunzipSync(bytes) : bytes).toString("utf8");
}

/** The rows of `file`'s main table that this run (meta, config names) may keep, or a clear error. */
export function resumableRows(file: string, meta: BenchMeta, names: readonly string[]): ResumedRows {
    let earlier: BenchReport;
    try {
        earlier = JSON.parse(readBenchJson(file)) as BenchReport;
    } catch (e) {
        throw new Error(`--resume ${file}: not a readable bench.json (${(e as Error).message})`);
    }
    if (!earlier?.meta || !Array.isArray(earlier.main?.configs)) throw new Error(`--resume ${file}: not a bench.json written by bench/run.ts`);
    const e = earlier.meta;
    const differs = (
        [
            ["problems file", e.problems?.file, meta.problems.file],
            ["problem count", e.problems?.count, meta.problems.count],
            ["first problem", e.problems?.first, meta.problems.first],
            ["last problem", e.problems?.last, meta.problems.last],
            ["batch", e.batch, meta.batch],
            ["model name", e.model?.name, meta.model.name],
            ["model dtype", e.model?.dtype, meta.model.dtype],
            ["device", e.model?.device, meta.model.device],
            ["binary", e.build?.variantName, meta.build.variantName],
        ] as const
    ).filter(([, a, b]) => a !== b);
    if (differs.length > 0) {
        const what = differs.map(([k, a, b]) => `${k} ${JSON.stringify(a)} there, ${JSON.stringify(b)} here`).join("; ");
        throw new Error(`--resume ${file}: that run measured something else (${what}); run without --resume`);
    }
    const wanted = new Set(names);
    const rows = earlier.main.configs.filter((c) => wanted.has(c.name));
    return { rows, from: { date: e.date, command: e.command, rows: rows.map((r) => r.name) } };
}
