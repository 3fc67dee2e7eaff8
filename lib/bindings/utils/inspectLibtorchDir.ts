import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import type { LibtorchLocation } from "../../errors";
import { cudaFromTorchVersion } from "./cudaFromTorchVersion";

/**
 * A LibtorchLocation for `libDir` when it holds libtorch (libtorch.so or libtorch_cpu.so, possibly
 * versioned), else null. The version comes from `known` (Python's torch.__version__), the
 * libtorch distribution's build-version file, or a versioned file name, in that order.
 */
export async function inspectLibtorchDir(
    libDir: string,
    source: LibtorchLocation["source"],
    known: { version?: string; cudaVersion?: string } = {},
): Promise<LibtorchLocation | null> {
    const files = await readdir(libDir).catch(() => null);
    if (files === null) return null;
    const libraries = files.filter((f) => /^lib(c10|torch)[a-z_]*\.so(\.[0-9.]+)?$/.test(f)).sort();
    if (!libraries.some((f) => /^libtorch(_cpu)?\.so/.test(f))) return null;
    const version =
        known.version ||
        (await readFile(path.join(libDir, "..", "build-version"), "utf8").then((t) => t.trim(), () => "")) ||
        versionFromFileNames(libraries);
    return {
        libDir,
        source,
        version,
        cudaVersion: known.cudaVersion || cudaFromTorchVersion(version),
        hasCuda: libraries.some((f) => f.startsWith("libtorch_cuda.so")),
        libraries,
    };
}

/** Debian ships libtorch.so.1.13.0: the longest versioned name is the most precise. */
function versionFromFileNames(libraries: readonly string[]): string {
    const versions = libraries
        .map((f) => /^libtorch\.so\.([0-9.]+)$/.exec(f)?.[1])
        .filter((v): v is string => v !== undefined)
        .sort((a, b) => b.length - a.length);
    return versions[0] ?? "";
}
