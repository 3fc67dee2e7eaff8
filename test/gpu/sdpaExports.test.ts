// The archives GPU users make pass localleap's load-time checks (the operator allowlist, the
// probe) and run: bf16 + SDPA exports on CUDA of the reference model (tools/export.py) and of
// tiny LLaDA and Dream checkpoints in their Hugging Face layouts (tools/export_hf.py).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { loadModel } from "../../lib/loadModel";
import { exportHf, makeHfCheckpoint } from "../support/hfCheckpoints";
import { ROOT, torchPython } from "../support/fixtures";

const GPU_EXPORT = ["--dtype", "bfloat16", "--attention", "sdpa", "--device", "cuda"];

async function loadsAndGenerates(file: string): Promise<void> {
    const model = await loadModel({ modelPath: file, device: "cuda" });
    try {
        assert.equal(model.info.metadata.attention, "sdpa");
        assert.equal(model.info.dtype, "bfloat16");
        const result = await model.generate("Tom has 3 apples and buys 5 more. How many apples does he have?", { genLength: 32 });
        assert.equal(result.tokens.length <= 32, true);
        console.log(`${path.basename(file)}: loaded on ${model.info.build.cudaDeviceName}, ${result.steps} steps`);
    } finally {
        await model.dispose();
    }
}

test("the reference model exported with bf16 + SDPA on CUDA loads and generates", async () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), "localleap-sdpa-")), "reference-sdpa.pt");
    const r = spawnSync(torchPython(), [path.join(ROOT, "tools", "export.py"), "--weights", path.join(ROOT, "models", "reference"), "--out", out, ...GPU_EXPORT], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    await loadsAndGenerates(out);
});

for (const family of ["llada", "dream"] as const) {
    test(`a ${family} checkpoint exported by export_hf.py with bf16 + SDPA on CUDA loads and generates`, async () => {
        const dir = mkdtempSync(path.join(tmpdir(), `localleap-${family}-sdpa-`));
        makeHfCheckpoint(family, path.join(dir, "checkpoint"));
        const out = path.join(dir, "model.pt");
        const r = exportHf(path.join(dir, "checkpoint"), out, GPU_EXPORT);
        assert.equal(r.status, 0, r.stderr);
        await loadsAndGenerates(out);
    });
}
