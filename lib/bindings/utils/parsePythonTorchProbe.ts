/** Marker before the probe's JSON line, so that warnings printed by `import torch` are skipped. */
export const PYTHON_TORCH_MARKER = "LOCALLEAP_TORCH_PROBE ";

/** The Python snippet whose output parsePythonTorchProbe reads. */
export const PYTHON_TORCH_PROBE =
    "import json, os, torch\n" +
    `print(${JSON.stringify(PYTHON_TORCH_MARKER)} + json.dumps({` +
    '"libDir": os.path.join(os.path.dirname(torch.__file__), "lib"), ' +
    '"version": torch.__version__, "cudaVersion": torch.version.cuda or ""}))';

/** What the probe found: torch's lib folder, its version and CUDA version ("" for CPU builds). */
export interface PythonTorch {
    libDir: string;
    version: string;
    cudaVersion: string;
}

/** Reads the probe's stdout; null when it holds no well-formed result. */
export function parsePythonTorchProbe(stdout: string): PythonTorch | null {
    const line = stdout.split("\n").find((l) => l.startsWith(PYTHON_TORCH_MARKER));
    if (line === undefined) return null;
    try {
        const value = JSON.parse(line.slice(PYTHON_TORCH_MARKER.length)) as Partial<PythonTorch>;
        if (typeof value.libDir !== "string" || typeof value.version !== "string") return null;
        return { libDir: value.libDir, version: value.version, cudaVersion: typeof value.cudaVersion === "string" ? value.cudaVersion : "" };
    } catch {
        return null;
    }
}
