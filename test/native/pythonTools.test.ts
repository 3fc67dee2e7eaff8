// The Python tools' own tests, with Debian's torch: tools/test_tools.py (export, metadata, the cache
// methods against the reference's plain transformer bit for bit, the reference decoder),
// tools/test_apd.py (the causal-LM archive kind, the Qwen2 export, the APD reference decoder),
// tools/test_learned_filter.py (the learned filter's file, arithmetic, add_filter, export,
// train_filter), and tools/train's (the training pipeline on tiny data: test_local, test_resume,
// test_onestep, test_quant, test_causal: the AR model of APD).
import { execFileSync } from "node:child_process";
import path from "node:path";
import { expect, test } from "@jest/globals";
import { ROOT, torchPython } from "../support/fixtures";

const CASES: { script: string; passed: RegExp }[] = [
    { script: "tools/test_tools.py", passed: /all passed/ },
    { script: "tools/test_apd.py", passed: /PASS: all \d+ tests/ },
    { script: "tools/test_learned_filter.py", passed: /learned filter tools: all passed/ },
    ...["test_local", "test_resume", "test_onestep", "test_quant", "test_causal"].map((name) => ({
        script: `tools/train/${name}.py`,
        passed: /^\d+ passed, 0 failed/m,
    })),
];

for (const { script, passed } of CASES) {
    test(`${script} passes`, () => {
        const out = execFileSync(torchPython(), [path.join(ROOT, script)], {
            cwd: ROOT,
            env: { ...process.env, OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? "1" },
            maxBuffer: 64 << 20,
        }).toString();
        expect(out).toMatch(passed);
    }, 600_000);
}
