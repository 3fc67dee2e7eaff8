// APD's token choice on the host (native/engine/apd_tokens.cc, the intra-op threads over
// apd_accept.h's chooseToken) against the plain Python reference (apd_reference.mixture / choose
// with rule_math's Gumbel noise), case by case: drafts and targets, greedy and sampled, R 0 / 0.3 /
// 0.7 / 1, ties, NaN, +-inf and all -inf rows. test/gpu/apdTokens.test.ts holds the CUDA kernel to
// this host rule.
import { beforeAll, describe, expect, test } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Addon, AddonApdTokensCase } from "../../lib/bindings/AddonTypes";
import { getAddon } from "../../lib/bindings/getAddon";
import { apdTokensCase, apdTokensGrid } from "../support/apdTokenCases";
import { ROOT, torchPython } from "../support/fixtures";

let addon: Addon;
beforeAll(async () => {
    addon = (await getAddon({ device: "cpu" })).addon;
});

/** Every case's tokens by the reference, in one Python process. */
function reference(cases: readonly AddonApdTokensCase[]): number[][] {
    const dir = mkdtempSync(path.join(os.tmpdir(), "apd-tokens-"));
    try {
        const file = (name: string, a: Float32Array) => {
            const p = path.join(dir, name);
            writeFileSync(p, Buffer.from(a.buffer, a.byteOffset, a.byteLength));
            return p;
        };
        const input = JSON.stringify(cases.map((c, i) => ({ ...c, zd: file(`zd${i}.f32`, c.zd), za: c.za === undefined ? null : file(`za${i}.f32`, c.za) })));
        const out = execFileSync(torchPython(), [path.join(ROOT, "test", "support", "apd_tokens_reference.py")], { input, encoding: "utf8" });
        return JSON.parse(out) as number[][];
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}

describe("APD tokens on the host equal the Python reference", () => {
    const grid = apdTokensGrid([2, 7, 300, 4099], 24);
    let expected: number[][] = [];
    beforeAll(() => {
        expected = reference(grid.map(([, c]) => c));
    });
    grid.forEach(([name, c], i) => {
        test(name, () => {
            expect(Array.from(addon.applyApdTokens(c, "cpu"))).toEqual(expected[i]);
        });
    });
});

test("a vocabulary of the mask id alone has no token (-1)", () => {
    const c = apdTokensCase(5, 3, 1, { targets: false, mixtureWeight: 0.7, temperature: 0, maskId: 0 });
    expect(Array.from(addon.applyApdTokens(c, "cpu"))).toEqual([-1, -1, -1]);
});

test("bad cases are INVALID_ARGUMENT; 'cuda' without the CUDA build is CUDA_UNAVAILABLE", () => {
    const c = apdTokensCase(6, 4, 16, { targets: true, mixtureWeight: 0.5, temperature: 0, maskId: 3 });
    expect(() => addon.applyApdTokens({ ...c, zd: c.zd.subarray(1) }, "cpu")).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(() => addon.applyApdTokens({ ...c, mixtureWeight: 1.5 }, "cpu")).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(() => addon.applyApdTokens(c, "tpu" as never)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    if (addon.buildInfo().variant !== "cuda") {
        expect(() => addon.applyApdTokens(c, "cuda")).toThrow(expect.objectContaining({ code: "CUDA_UNAVAILABLE" }));
    }
});
