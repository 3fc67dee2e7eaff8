import { execFile } from "node:child_process";
import { parsePythonTorchProbe, PYTHON_TORCH_PROBE, type PythonTorch } from "./parsePythonTorchProbe";

/**
 * Asks `python` where its torch lives (pip's CUDA wheels are the usual source of a CUDA libtorch).
 * Resolves to the result, or to a sentence saying why there is none; never rejects.
 */
export function probePythonTorch(python: string, timeoutMs = 60_000): Promise<PythonTorch | string> {
    return new Promise((resolve) => {
        execFile(python, ["-c", PYTHON_TORCH_PROBE], { timeout: timeoutMs, windowsHide: true }, (error, stdout, stderr) => {
            const found = parsePythonTorchProbe(String(stdout));
            if (found !== null) return resolve(found);
            const code = (error as NodeJS.ErrnoException | null)?.code;
            if (code === "ENOENT") return resolve(`${python} not found`);
            const lastLine = String(stderr).trim().split("\n").pop() ?? "";
            resolve(`${python} has no usable torch${lastLine ? ` (${lastLine})` : ""}`);
        });
    });
}
