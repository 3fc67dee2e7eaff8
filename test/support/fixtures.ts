import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { packageRoot } from "../../lib/utils/packageRoot";

/** Paths of the models the native tests use; created by tools/setup.sh or on first use. */
// The repository root, from test/support (ts-jest) and from dist/test/support (the compiled GPU suite) alike.
export const ROOT = packageRoot();
export const FIXTURE_DIR = path.join(ROOT, "test", "fixtures", "generated");
export const LLADA_FIXTURE = path.join(FIXTURE_DIR, "llada.pt");
export const DREAM_FIXTURE = path.join(FIXTURE_DIR, "dream.pt");
/** APD's causal LMs (kind causal, qwen2): one with the dLLM fixtures' 300-token tokenizer, one whose tokenizer has a 301st token. */
export const CAUSAL_FIXTURE = path.join(FIXTURE_DIR, "causal.pt");
export const CAUSAL301_FIXTURE = path.join(FIXTURE_DIR, "causal301.pt");

/** Debian's python3 with torch (the python3 first on PATH may have none). */
export function torchPython(): string {
    if (process.env.LOCALLEAP_PYTHON) return process.env.LOCALLEAP_PYTHON;
    return existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

/** Exports the random-weight fixture models with the export tool when they are missing. */
export function ensureFixtures(): void {
    mkdirSync(FIXTURE_DIR, { recursive: true });
    for (const [arch, file] of [["llada", LLADA_FIXTURE], ["dream", DREAM_FIXTURE]] as const) {
        if (existsSync(file)) continue;
        execFileSync(torchPython(), [path.join(ROOT, "tools", "make_fixture.py"), "--architecture", arch,
            "--out-dir", path.join(FIXTURE_DIR, arch), "--model", file, "--attention", "manual"], { stdio: "inherit" });
    }
}

/** ensureFixtures, plus APD's causal-LM fixtures (tools/make_fixture.py --architecture qwen2). */
export function ensureApdFixtures(): void {
    ensureFixtures();
    for (const [file, seed, vocab] of [[CAUSAL_FIXTURE, "3", "300"], [CAUSAL301_FIXTURE, "6", "301"]] as const) {
        if (existsSync(file)) continue;
        execFileSync(torchPython(), [path.join(ROOT, "tools", "make_fixture.py"), "--architecture", "qwen2", "--seed", seed, "--vocab", vocab,
            "--out-dir", file.replace(/\.pt$/, ""), "--model", file, "--attention", "manual"], { stdio: "inherit" });
    }
}
