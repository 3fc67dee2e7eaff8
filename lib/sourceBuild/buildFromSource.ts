import { spawn, spawnSync } from "node:child_process";
import path from "node:path";
import { InvalidOptionsError } from "../errors";
import { findNodeGyp } from "./findNodeGyp";

/** How {@link buildFromSource} builds. */
export interface SourceBuildOptions {
    /** "cmake" (cmake-js; the only one that builds the CUDA variant), "gyp" (node-gyp, CPU only) or "auto": cmake-js when CMake is installed. */
    tool: "auto" | "cmake" | "gyp";
    /** Parallel compile jobs. */
    jobs: number;
    /** Where the output goes (inherits the parent's stdio by default). */
    stdio?: "inherit" | "ignore";
}

/** What a source build ran and how it ended. */
export interface SourceBuildResult {
    tool: "cmake" | "gyp";
    command: string[];
    exitCode: number;
}

/**
 * Builds build/Release/localleap.node in the package folder `root` against the libtorch found
 * there (CMakeLists.txt / tools/gyp/libtorch.js: LOCALLEAP_LIBTORCH, Debian's libtorch-dev,
 * python3's torch). The loader prefers this build over the prebuilt binaries.
 */
export function buildFromSource(root: string, options: SourceBuildOptions): Promise<SourceBuildResult> {
    const tool = options.tool === "auto" ? (hasCmake() ? "cmake" : "gyp") : options.tool;
    let command: string[];
    if (tool === "cmake") {
        command = [process.execPath, require.resolve("cmake-js/bin/cmake-js", { paths: [root] }), "build", "--log-level", "warn", "-p", String(options.jobs)];
    } else {
        const nodeGyp = findNodeGyp(process.env, root);
        if (nodeGyp === null) {
            throw new InvalidOptionsError("build", [{ field: "tool", given: '"gyp"', allowed: '"cmake"', message: "node-gyp was not found (not beside localleap, not bundled with npm): install CMake and use --tool cmake, or `npm install -g node-gyp`" }]);
        }
        command = [process.execPath, nodeGyp, "rebuild", `--jobs=${options.jobs}`];
    }
    return new Promise((resolve, reject) => {
        const child = spawn(command[0] as string, command.slice(1), { cwd: root, stdio: options.stdio ?? "inherit" });
        child.on("error", reject);
        child.on("close", (code) => resolve({ tool, command: command.map((part) => (path.isAbsolute(part) ? path.relative(root, part) || part : part)), exitCode: code ?? 1 }));
    });
}

function hasCmake(): boolean {
    return spawnSync("cmake", ["--version"], { stdio: "ignore" }).status === 0;
}
