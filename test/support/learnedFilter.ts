import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { AddonLearnedFilter } from "../../lib/bindings/AddonTypes";
import { ROOT, torchPython } from "./fixtures";

/** A learned_filter.json object (docs/decoding.md "Learned filter") from row-major weights. */
export function filterJson(f: AddonLearnedFilter, acceptThreshold = 0.9): Record<string, unknown> {
    const rows = (a: Float32Array, r: number, c: number) => Array.from({ length: r }, (_, i) => Array.from(a.subarray(i * c, (i + 1) * c)));
    return {
        format: 1, blockLength: f.blockLength, hidden: f.hidden,
        w1: rows(f.w1, f.hidden, f.blockLength), b1: Array.from(f.b1), w2: rows(f.w2, f.blockLength, f.hidden), b2: Array.from(f.b2),
        acceptThreshold,
        provenance: { model: "test", date: "2026-12-01", genLength: 0, problems: { source: "none", split: "none", count: 0, ids: [] } },
    };
}

/**
 * The identity-like filter of the hand-built tests: hidden unit j = relu(10 x_j), logit_i =
 * 10 x_src(i) - 5 (src(i) = i unless `cross` maps it): sigmoid(logit) > 0.5 exactly when x_src > 0.5.
 */
export function identityFilter(blockLength: number, cross: Record<number, number> = {}): AddonLearnedFilter {
    const w1 = new Float32Array(blockLength * blockLength), w2 = new Float32Array(blockLength * blockLength);
    for (let i = 0; i < blockLength; i++) {
        w1[i * blockLength + i] = 10;
        w2[i * blockLength + (cross[i] ?? i)] = 1;
    }
    return { blockLength, hidden: blockLength, w1, b1: new Float32Array(blockLength), w2, b2: new Float32Array(blockLength).fill(-5) };
}

/** A random filter (seeded, float32 values), of the kind tools/add_filter.py --random writes. */
export function randomFilter(blockLength: number, hidden: number, next: () => number): AddonLearnedFilter {
    const normal = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
    const fill = (n: number, scale: number) => Float32Array.from({ length: n }, () => normal() * scale);
    const f = { blockLength, hidden, w1: fill(hidden * blockLength, 1 / Math.sqrt(blockLength)), b1: fill(hidden, 0.5), w2: fill(blockLength * hidden, 1 / Math.sqrt(hidden)), b2: fill(blockLength, 0.5) };
    for (let i = 0; i < Math.min(blockLength, hidden); i++) {
        f.w1[i * blockLength + i]! += 4;
        f.w2[i * hidden + i]! += 2;
        f.b1[i]! -= 2;
    }
    return f;
}

/** Copies `archive` with `filterText` as its learned_filter.json (tools/add_filter.py, or a raw rewrite for invalid text). */
export function archiveWithFilter(archive: string, filterText: string | null, name: string, raw = false): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), "ll-filter-"));
    const out = path.join(dir, name + ".pt");
    if (filterText === null) {
        execFileSync(torchPython(), [path.join(ROOT, "tools", "add_filter.py"), archive, "--random", "--block-length", "16", "--out", out]);
        return out;
    }
    const file = path.join(dir, "learned_filter.json");
    writeFileSync(file, filterText);
    if (!raw) {
        execFileSync(torchPython(), [path.join(ROOT, "tools", "add_filter.py"), archive, file, "--out", out]);
        return out;
    }
    // Unvalidated text (for the invalid-filter tests): the same zip rewrite without the check.
    const script = [
        "import sys, zipfile",
        "src, out, text = sys.argv[1], sys.argv[2], open(sys.argv[3], 'rb').read()",
        "entries = [(i, zipfile.ZipFile(src).read(i.filename)) for i in zipfile.ZipFile(src).infolist()]",
        "prefix = next(i.filename for i, _ in entries if i.filename.endswith('/extra/localleap.json'))[:-len('extra/localleap.json')]",
        "z = zipfile.ZipFile(out, 'w', zipfile.ZIP_STORED)",
        "[z.writestr(i, d) for i, d in entries]",
        "z.writestr(zipfile.ZipInfo(prefix + 'extra/learned_filter.json'), text)",
        "z.close()",
    ].join("\n");
    execFileSync(torchPython(), ["-c", script, archive, out, file]);
    return out;
}

/** The Python reference's commit masks (tools/localleap/commit_rule.py, strategy learned) for given confidences. */
export function pythonLearnedCommits(cases: { conf: number[]; masked: boolean[]; filter: Record<string, unknown>; acceptThreshold: number }[]): number[][] {
    const script = [
        "import json, sys",
        `sys.path.insert(0, ${JSON.stringify(path.join(ROOT, "tools"))})`,
        "import numpy as np",
        "from localleap import commit_rule as cr, learned_filter as lf",
        "out = []",
        "for c in json.load(sys.stdin):",
        "    f = lf.parse(json.dumps(c['filter']))",
        "    conf = np.asarray(c['conf'], dtype=np.float32); masked = np.asarray(c['masked'], bool)",
        "    keys = cr.order_keys('learned', conf, 0, 0, np.arange(len(conf)))",
        "    out.append(cr.commit_mask('learned', masked, conf, keys, 1, 0.9, 0.9, 0.75, 4, f, c['acceptThreshold']).astype(int).tolist())",
        "print(json.dumps(out))",
    ].join("\n");
    const text = execFileSync(torchPython(), ["-c", script], { input: JSON.stringify(cases), maxBuffer: 64 << 20 }).toString();
    return JSON.parse(text) as number[][];
}

export function readJson(file: string): unknown {
    return JSON.parse(readFileSync(file, "utf8"));
}
