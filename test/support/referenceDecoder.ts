import { execFileSync } from "node:child_process";
import path from "node:path";
import type { AddonGenerateRequest } from "../../lib/bindings/AddonTypes";
import { ROOT, torchPython } from "./fixtures";

/**
 * A case of tools/reference_decode.py (the plain Python decoder of docs/decoding.md): the
 * engine's request with plain arrays for prompts, plus the model file.
 */
export type ReferenceCase = Omit<AddonGenerateRequest, "prompts" | "cudaGraph" | "abort" | "onStep"> & {
    model: string;
    prompts: number[][];
};

export interface ReferenceResult {
    rows: { tokens: number[]; steps: number; stepsPerBlock: number[]; finishReason: string }[];
    batchSteps: number;
}

/** Runs every case in one Python process (each model loads once) with Debian's torch. */
export function runReferenceDecoder(cases: ReferenceCase[]): ReferenceResult[] {
    const out = execFileSync(torchPython(), [path.join(ROOT, "tools", "reference_decode.py")], {
        input: JSON.stringify(cases),
        maxBuffer: 64 << 20,
        env: { ...process.env, OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? "1" },
    });
    return JSON.parse(out.toString()) as ReferenceResult[];
}
