// APD's token kernel (native/kernels/apd_tokens_kernel.cu) against the host rule (the same
// apd_accept.h chooseToken, test/native/apdTokens.test.ts holds it to the Python reference):
// identical ids for drafts and targets, greedy and sampled, R 0 / 0.3 / 0.7 / 1, ties, NaN, +-inf
// and all -inf rows, widths below, at and past a CTA's 256 threads up to Qwen2.5's 151936, and
// one launch of 100 x 1000 tasks (a batch of 1000 rows at M 100).
import assert from "node:assert/strict";
import { test } from "node:test";
import { getAddon } from "../../lib/bindings/getAddon";
import { apdTokensCase, apdTokensGrid } from "../support/apdTokenCases";

test("APD token kernel equals the host rule id for id", async () => {
    const { addon } = await getAddon({ device: "cuda" });
    let cases = 0, tasks = 0;
    for (const [name, c] of apdTokensGrid([2, 7, 255, 256, 257, 4096, 4099, 151936], 12)) {
        const cpu = Array.from(addon.applyApdTokens(c, "cpu"));
        const gpu = Array.from(addon.applyApdTokens(c, "cuda"));
        assert.deepEqual(gpu, cpu, name);
        cases++;
        tasks += c.count;
    }
    for (const targets of [false, true]) {
        for (const temperature of [0, 1]) {
            const c = apdTokensCase(99 + cases, 100_000, 64, { targets, mixtureWeight: 0.7, temperature, maskId: 5, special: false });
            assert.deepEqual(Array.from(addon.applyApdTokens(c, "cuda")), Array.from(addon.applyApdTokens(c, "cpu")), `100000 tasks, targets ${targets}, T ${temperature}`);
            cases++;
            tasks += c.count;
        }
    }
    console.log(`# apd token kernel: ${cases} cases, ${tasks} tasks identical`);
});
