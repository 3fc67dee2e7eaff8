import { spawnSync } from "node:child_process";
import path from "node:path";
import { ROOT, torchPython } from "./fixtures";

/** Result of one Python tool run. */
export interface ToolRun {
    status: number | null;
    stderr: string;
}

function runTool(script: string, args: string[]): ToolRun {
    const r = spawnSync(torchPython(), [path.join(ROOT, "tools", script), ...args], {
        encoding: "utf8",
        env: { ...process.env, OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? "2" },
        maxBuffer: 16 << 20,
    });
    return { status: r.status, stderr: `${r.stderr ?? ""}${r.error ? String(r.error) : ""}` };
}

function mustSucceed(what: string, run: ToolRun): ToolRun {
    if (run.status !== 0) throw new Error(`${what} failed (exit ${run.status}):\n${run.stderr}`);
    return run;
}

/** tools/make_hf_checkpoint.py: a random-weight checkpoint in a family's Hugging Face layout. */
export function makeHfCheckpoint(family: "llada" | "dream", out: string, extra: string[] = []): ToolRun {
    return mustSucceed(`make_hf_checkpoint ${family}`, runTool("make_hf_checkpoint.py", ["--family", family, "--preset", "tiny", "--out", out, "--device", "cpu", ...extra]));
}

/** tools/export_hf.py as a user runs it; does not throw, so that error cases can be checked. */
export function exportHf(checkpoint: string, out: string, extra: string[] = []): ToolRun {
    return runTool("export_hf.py", ["--checkpoint", checkpoint, "--out", out, ...extra]);
}

/** tools/export_hf.py for the tests: float32, manual attention, CPU; throws on failure. */
export function exportHfForTest(checkpoint: string, out: string): ToolRun {
    return mustSucceed(`export_hf ${checkpoint}`, exportHf(checkpoint, out, ["--dtype", "float32", "--attention", "manual", "--device", "cpu"]));
}

/**
 * Special-token ids of the tiny presets (tools/localleap/hf/synth.py): the released tokenizers'
 * layouts moved down to a 320-token base vocabulary. LLaDA: <|startoftext|> at the base
 * (126080 released), 16 reserved tokens with <|mdm_mask|> in slot 12, then <role> ... <|eot_id|>.
 * Dream: Qwen2.5's added tokens from <|endoftext|> (151643 released), then <|beginoftext|>, <|mask|>.
 */
export const TINY_LLADA_IDS = {
    startoftext: 320, endoftext: 321, mask: 336, startHeader: 346, endHeader: 347, eot: 348,
} as const;
export const TINY_DREAM_IDS = { endoftext: 320, imStart: 321, imEnd: 322, beginoftext: 342, mask: 343 } as const;
