import path from "node:path";
import { Command } from "commander";

/** What bench/run.ts provides (the benchmark runner; compiled to dist/bench/run.js). */
interface BenchRunner {
    runBenchmark(argv: string[]): Promise<unknown>;
}

/**
 * The benchmark runner, loaded only when `localleap bench` runs: it lives outside lib/ (with
 * its data under bench/), so the library and the other commands never depend on it.
 */
function loadBenchRunner(): BenchRunner {
    // lib/cli/commands -> bench/run.ts (tsx, ts-jest); dist/lib/cli/commands -> dist/bench/run.js.
    const file = path.resolve(__dirname, "..", "..", "..", "bench", "run");
    let runner: Partial<BenchRunner>;
    try {
        runner = require(file) as Partial<BenchRunner>;
    } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "MODULE_NOT_FOUND" && String((error as Error).message).includes(file)) {
            throw new Error(
                `the benchmark runner is not built (${path.relative(process.cwd(), file) || file}.js is missing): ` +
                    "in a clone of the repository, run `npx tsc -p tsconfig.test.json` (it compiles bench/ to dist/bench/)",
            );
        }
        throw error;
    }
    if (typeof runner.runBenchmark !== "function") throw new Error(`${file} does not export runBenchmark()`);
    return runner as BenchRunner;
}

/** `localleap bench [args...]`: the benchmark of the decoding strategies (bench/run.ts; its flags pass through). */
export function benchCommand(): Command {
    return new Command("bench")
        .description("benchmark the decoding strategies (bench/run.ts): accuracy, steps and speed on held-out problems; its flags pass through")
        .argument("[args...]", "the runner's flags (localleap bench --help lists them)")
        .helpOption(false)
        .allowUnknownOption()
        .allowExcessArguments()
        .action(async (args: string[]) => {
            await loadBenchRunner().runBenchmark(args);
        });
}
