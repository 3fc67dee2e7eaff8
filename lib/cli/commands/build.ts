import os from "node:os";
import { Command, Option } from "commander";
import { getBuildInfo } from "../../bindings/getAddon";
import { buildFromSource } from "../../sourceBuild/buildFromSource";
import { InvalidOptionsError, NativeBuildError } from "../../errors";
import { packageRoot } from "../../utils/packageRoot";
import { formatBuildInfo } from "../utils/formatBuildInfo";

interface BuildFlags {
    tool: "auto" | "cmake" | "gyp";
    jobs?: string;
}

/**
 * `localleap build`: compiles the native addon from the shipped sources against the libtorch on
 * this machine, for platforms or libtorch versions no prebuilt binary fits. localleap has no
 * install script (npm 11 asks before running one), so this is the one command that completes
 * such an install.
 */
export function buildCommand(): Command {
    return new Command("build")
        .description("compile the native addon from source against this machine's libtorch (when no prebuilt binary fits)")
        .addOption(new Option("--tool <tool>", "cmake (cmake-js, CPU or CUDA), gyp (node-gyp, CPU only) or auto").choices(["auto", "cmake", "gyp"]).default("auto"))
        .option("-j, --jobs <n>", "parallel compile jobs (default: the number of CPUs)")
        .addHelpText("after", "\nNeeds a C++17 compiler, libtorch with its headers (Debian/Ubuntu: sudo apt install libtorch-dev g++ cmake;\nor pip install torch) and, for --tool cmake, CMake >= 3.19.")
        .action(runBuild);
}

async function runBuild(flags: BuildFlags): Promise<void> {
    const jobs = flags.jobs === undefined ? os.availableParallelism() : Number(flags.jobs);
    if (!Number.isInteger(jobs) || jobs < 1) {
        throw new InvalidOptionsError("build flags", [{ field: "jobs", given: String(flags.jobs), allowed: "an integer >= 1", message: `--jobs: got ${JSON.stringify(flags.jobs)}; allowed: an integer >= 1` }]);
    }
    const root = packageRoot();
    process.stderr.write(`localleap: building the native addon in ${root} with ${flags.tool === "auto" ? "cmake-js (node-gyp without CMake)" : flags.tool}\n`);
    const result = await buildFromSource(root, { tool: flags.tool, jobs });
    if (result.exitCode !== 0) {
        throw new NativeBuildError(`the source build failed (${result.command.join(" ")} exited with ${result.exitCode})`,
            "install libtorch with headers and a compiler (Debian/Ubuntu: sudo apt install libtorch-dev g++ cmake), or set LOCALLEAP_LIBTORCH to a libtorch folder, then run `npx localleap build` again");
    }
    const info = await getBuildInfo();
    process.stderr.write(`${formatBuildInfo(info)}\n`);
    if (info.error !== null) throw info.error;
}
