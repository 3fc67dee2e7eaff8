import { execFileSync } from "node:child_process";
import path from "node:path";
import { ROOT, torchPython } from "./fixtures";

/** A case of tools/reference_decode.py (the plain Python decoder of docs/decoding.md). */
export interface ReferenceCase {
    model: string;
    prompts: number[][];
    genLength: number;
    blockLength: number;
    strategy: "low-confidence" | "random" | "threshold" | "localleap";
    steps: number;
    threshold: number;
    anchorThreshold: number;
    relaxedThreshold: number;
    radius: number;
    temperature: number;
    seeds: number[];
    stopAtEos: boolean;
}

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
