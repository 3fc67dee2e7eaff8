// The Python tools' own tests (tools/test_tools.py: export, metadata, the cache methods against the
// reference's plain transformer bit for bit, the reference decoder; tools/test_apd.py: the causal-LM
// archive kind, the Qwen2 export and the APD reference decoder; tools/test_learned_filter.py: the
// learned filter's file, arithmetic, add_filter, export and train_filter), with Debian's torch.
import { execFileSync } from "node:child_process";
import path from "node:path";
import { expect, test } from "@jest/globals";
import { ROOT, torchPython } from "../support/fixtures";

test("tools/test_tools.py passes", () => {
    const out = execFileSync(torchPython(), [path.join(ROOT, "tools", "test_tools.py")], {
        cwd: ROOT,
        env: { ...process.env, OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? "1" },
        maxBuffer: 16 << 20,
    }).toString();
    expect(out).toContain("all passed");
}, 300_000);

test("tools/test_apd.py passes", () => {
    const out = execFileSync(torchPython(), [path.join(ROOT, "tools", "test_apd.py")], {
        cwd: ROOT,
        env: { ...process.env, OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? "1" },
        maxBuffer: 16 << 20,
    }).toString();
    expect(out).toMatch(/PASS: all \d+ tests/);
}, 300_000);

test("tools/test_learned_filter.py passes", () => {
    const out = execFileSync(torchPython(), [path.join(ROOT, "tools", "test_learned_filter.py")], {
        cwd: ROOT,
        env: { ...process.env, OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? "1" },
        maxBuffer: 16 << 20,
    }).toString();
    expect(out).toContain("learned filter tools: all passed");
}, 300_000);
