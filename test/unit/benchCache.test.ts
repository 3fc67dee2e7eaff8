// The KV-cache benchmarks' pure parts (issue 12): config variants, --cache, AUP per cache, the
// run plan of bench/cacheSteps.ts, the per-kind timings and the growth plot.
import { describe, expect, test } from "@jest/globals";
import type { AddonGenerateResult } from "../../lib/bindings/AddonTypes";
import { baseName, cacheVariants, mainConfigs, threshold, withCache } from "../../bench/accuracy/configs";
import { aupByFamily, type ConfigSummary } from "../../bench/accuracy/summarize";
import { blockAveragedMs, buildPlan, growthSvg, parseModes, type PlanOptions, type RunRow } from "../../bench/cacheSteps";
import { cacheStepTimings, parseCacheModes, withCacheOption } from "../../bench/cacheTypes";
import { parseBenchArgs } from "../../bench/run";

describe("accuracy benchmark with a KV cache", () => {
    test("cache variants: none keeps the name, prefix and dual add a suffix; baseName strips it", () => {
        const t = threshold(256);
        expect(withCache(t, "none").name).toBe("threshold-256");
        expect(withCache(t, "dual").name).toBe("threshold-256-dual");
        expect(withCache(t, "dual").description).toBe("threshold θ=0.9, dual cache");
        expect(withCache(t, "prefix").family).toBe("threshold");
        expect(baseName(withCache(t, "prefix"))).toBe("threshold-256");
        expect(baseName(t)).toBe("threshold-256");
        const all = cacheVariants(mainConfigs(256), ["none", "prefix", "dual"]);
        expect(all).toHaveLength(21);
        expect(all.slice(0, 7).every((c) => c.cache === "none")).toBe(true);
        expect(all.map((c) => c.name)).toContain("localleap-256-stop-dual");
    });

    test("--cache parses the modes and rejects others", () => {
        expect(parseBenchArgs(["--cache", "none,prefix,dual"]).caches).toEqual(["none", "prefix", "dual"]);
        expect(parseBenchArgs(["--gen", "256"]).caches).toBeUndefined();
        expect(() => parseBenchArgs(["--cache", "full"])).toThrow(/not one of none, prefix, dual/);
        expect(parseCacheModes("dual, dual,none")).toEqual(["dual", "none"]);
    });

    test("the cache option is passed only when a cache is asked for", () => {
        const options = threshold(256).options;
        expect(withCacheOption(options, undefined)).toBe(options);
        expect(withCacheOption(options, "none")).toEqual({ ...options, cache: "none" });
    });

    test("AUP scores a family's configurations per cache mode", () => {
        const summary = (name: string, cache: "none" | "dual" | undefined, tpf: number, accuracy: number) =>
            ({ name, family: "threshold", genLength: 256, tpf, accuracy, ...(cache && { cache }) }) as unknown as ConfigSummary;
        const aup = aupByFamily([summary("threshold-256", "none", 9, 60), summary("threshold-256-dual", "dual", 9, 58), summary("threshold-256-t0.8", "none", 11, 57)]);
        expect(aup).toHaveLength(2);
        expect(aup.find((a) => a.cache === "dual")?.points.map((p) => p.name)).toEqual(["threshold-256-dual"]);
        expect(aup.find((a) => a.cache === "none")?.points).toHaveLength(2);
        // Without --cache the summaries have no cache and group as before.
        expect(aupByFamily([summary("a", undefined, 1, 50), summary("b", undefined, 2, 49)])).toHaveLength(1);
    });
});

describe("bench/cacheSteps.ts", () => {
    const plan: PlanOptions = {
        batches: [1, 8],
        gens: [256, 512, 1024],
        caches: ["none", "prefix", "dual"],
        skip: new Set(["8x1024"]),
        prompt: 128,
        block: 32,
        maxLength: 4096,
        growthCanvases: [256, 1000, 2048],
        growthCaches: ["none", "dual"],
        growthBatch: 1,
        growthBlocks: 2,
    };

    test("--modes: names, block caps and shapes", () => {
        const m = parseModes("lc1@1x256,lc1/2,growth,lc5@1+8x512,localleap/2@1x256", 0);
        expect(m.map((x) => [x.name, x.kind, x.maxBlocks])).toEqual([
            ["lc1", "lc1", 0],
            ["lc1", "lc1", 2],
            ["growth", "growth", 0],
            ["lc5", "lcN", 0],
            ["localleap", "localleap", 2],
        ]);
        expect(m[3]?.stepsPerBlock).toBe(5);
        expect(m[3]?.shapes).toEqual([{ batch: 1 }, { batch: 8, gen: 512 }]);
        expect(() => parseModes("fast", 0)).toThrow(/unknown mode/);
        expect(() => parseModes("lc1@1y2", 0)).toThrow(/cannot read/);
    });

    test("the plan: first item wins per (mode, shape), skips, growth in place", () => {
        const { runs, left } = buildPlan(parseModes("lc1@1x256,lc1/2,growth,lc5@1", 0), plan);
        const key = (r: (typeof runs)[number]) => `${r.sweep} ${r.mode.name}/${r.mode.maxBlocks} ${r.batch}x${r.genLength} ${r.cache}`;
        const keys = runs.map(key);
        expect(keys.slice(0, 3)).toEqual(["main lc1/0 1x256 none", "main lc1/0 1x256 prefix", "main lc1/0 1x256 dual"]);
        expect(keys).not.toContain("main lc1/2 1x256 none");
        expect(keys).toContain("main lc1/2 8x512 dual");
        expect(keys.filter((k) => k.includes("8x1024"))).toEqual([]);
        expect(left.map((l) => l.run)).toEqual(expect.arrayContaining(["lc1 8x1024", "growth canvas 1000"]));
        const growth = runs.filter((r) => r.sweep === "growth");
        expect(growth.map((r) => `${r.genLength} ${r.cache} ${r.mode.maxBlocks}`)).toEqual(["128 none 2", "128 dual 2", "1920 none 2", "1920 dual 2"]);
        // growth sits between the lc1 runs and lc5's
        const firstGrowth = keys.findIndex((k) => k.startsWith("growth"));
        const firstLc5 = keys.findIndex((k) => k.includes("lc5"));
        expect(firstGrowth).toBeGreaterThan(keys.lastIndexOf("main lc1/2 8x512 dual"));
        expect(firstLc5).toBeGreaterThan(firstGrowth);
        expect(keys.filter((k) => k.includes("lc5"))).toHaveLength(9);
    });

    test("block-averaged ms/step", () => {
        expect(blockAveragedMs(10, 4, 4)).toBe((10 + 3 * 4) / 4);
        expect(blockAveragedMs(10, null, 1)).toBe(10);
        expect(blockAveragedMs(10, null, 4)).toBeNull();
        expect(blockAveragedMs(null, 4, 4)).toBeNull();
    });

    test("per-kind timings: read when present, loud when missing, legacy only when asked", () => {
        const base = { rows: [], batchSteps: 10, totalMs: 100, stepMs: 90, cudaGraph: true, cudaGraphFallbackReason: "" } as unknown as AddonGenerateResult; // a binary that predates the cache: no per-kind fields
        const withFields = { ...base, fullSteps: 2, fullStepMs: 30, cachedSteps: 8, cachedStepMs: 60 } as AddonGenerateResult;
        expect(cacheStepTimings(withFields, false)).toEqual({ fullSteps: 2, fullStepMs: 30, cachedSteps: 8, cachedStepMs: 60, legacy: false });
        expect(() => cacheStepTimings(base, false)).toThrow(/predates the KV cache/);
        expect(cacheStepTimings(base, true)).toEqual({ fullSteps: 10, fullStepMs: 90, cachedSteps: 0, cachedStepMs: 0, legacy: true });
    });

    test("the growth plot draws one line per series and labels them", () => {
        const row = (canvas: number, cache: "none" | "dual", full: number, cached: number | null) =>
            ({ canvas, cache, batch: 1, fullMsPerStep: full, cachedMsPerStep: cached, msPerStep: full, blockAveraged: { tpf: { ms: cached === null ? full : (full + 3 * cached) / 4 } } }) as unknown as RunRow;
        const svg = growthSvg([row(256, "none", 10, null), row(512, "none", 15, null), row(256, "dual", 10, 6), row(512, "dual", 15, 6.5)], "test", 7);
        expect(svg.match(/<polyline/g)).toHaveLength(4); // none; dual full, cached, block average
        expect(svg).toContain("dual: cached step");
        expect(svg).toContain("none: every step (whole canvas)");
        expect(svg).toContain("block average at TPF 7");
    });
});
