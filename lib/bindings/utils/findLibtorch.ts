import { realpath } from "node:fs/promises";
import path from "node:path";
import type { LibtorchLocation } from "../../errors";
import { inspectLibtorchDir } from "./inspectLibtorchDir";
import { probePythonTorch } from "./probePythonTorch";

/** Every libtorch found, best source first, and notes on the places that had none. */
export interface LibtorchSearch {
    locations: LibtorchLocation[];
    notes: string[];
}

let cached: Promise<LibtorchSearch> | undefined;

/**
 * Looks for libtorch in LOCALLEAP_LIBTORCH (a libtorch folder with lib/, or the lib folder),
 * the torch of LOCALLEAP_PYTHON or python3 (set LOCALLEAP_PYTHON=none to skip the probe),
 * LD_LIBRARY_PATH and the system library folders. Cached for the process: it runs Python.
 */
export function findLibtorch(env: NodeJS.ProcessEnv = process.env): Promise<LibtorchSearch> {
    cached ??= searchLibtorch(env);
    return cached;
}

async function searchLibtorch(env: NodeJS.ProcessEnv): Promise<LibtorchSearch> {
    const found: (LibtorchLocation | null)[] = [];
    const notes: string[] = [];

    const explicit = env.LOCALLEAP_LIBTORCH;
    if (explicit) {
        const location =
            (await inspectLibtorchDir(path.join(explicit, "lib"), "LOCALLEAP_LIBTORCH")) ??
            (await inspectLibtorchDir(explicit, "LOCALLEAP_LIBTORCH"));
        if (location === null) notes.push(`LOCALLEAP_LIBTORCH=${explicit} holds no lib/libtorch.so`);
        found.push(location);
    }

    const python = env.LOCALLEAP_PYTHON || "python3";
    if (python !== "none") {
        const torch = await probePythonTorch(python);
        if (typeof torch === "string") notes.push(torch);
        else found.push(await inspectLibtorchDir(torch.libDir, "python", torch));
    }

    for (const dir of (env.LD_LIBRARY_PATH ?? "").split(path.delimiter).filter((d) => d !== "")) {
        found.push(await inspectLibtorchDir(dir, "LD_LIBRARY_PATH"));
    }
    for (const dir of systemLibDirs()) found.push(await inspectLibtorchDir(dir, "system"));

    // The same folder can be reached several ways (a symlinked venv, LD_LIBRARY_PATH = torch/lib).
    const seen = new Set<string>();
    const locations: LibtorchLocation[] = [];
    for (const location of found) {
        if (location === null) continue;
        const real = await realpath(location.libDir).catch(() => location.libDir);
        if (seen.has(real)) continue;
        seen.add(real);
        locations.push(location);
    }
    if (locations.length === 0) notes.push("no libtorch found in LOCALLEAP_LIBTORCH, Python's torch, LD_LIBRARY_PATH or the system library folders");
    return { locations, notes };
}

function systemLibDirs(): string[] {
    const multiarch = { x64: "x86_64-linux-gnu", arm64: "aarch64-linux-gnu" }[process.arch as "x64" | "arm64"];
    return [
        ...(multiarch ? [`/usr/lib/${multiarch}`] : []),
        "/usr/lib64",
        "/usr/local/lib",
        "/usr/lib",
        "/opt/libtorch/lib",
    ];
}
