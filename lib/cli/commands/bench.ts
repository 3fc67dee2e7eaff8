import path from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
// Types only (erased from the JS): the runner itself is required lazily, see loadBenchRunner.
import type { BenchmarkOptions, runBenchmark } from "../../../bench/run";

/**
 * The benchmark runner (bench/run.ts, compiled to dist/bench/run.js), loaded only when
 * `localleap bench` runs: it lives outside lib/ with its data under bench/, so the library and
 * the other commands never depend on it, and an install without it still has a working CLI.
 */
function loadBenchRunner(): { runBenchmark: typeof runBenchmark } {
    // lib/cli/commands -> bench/run.ts (tsx, ts-jest); dist/lib/cli/commands -> dist/bench/run.js.
    const file = path.resolve(__dirname, "..", "..", "..", "bench", "run");
    let runner: { runBenchmark?: unknown };
    try {
        runner = require(file) as { runBenchmark?: unknown };
    } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "MODULE_NOT_FOUND" && String((error as Error).message).includes(file)) {
            throw new Error(
                `the benchmark runner is not built (${path.relative(process.cwd(), file) || file}.js is missing): ` +
                    "it ships with the repository, not the npm package; in a clone run `npm run setup` or `npx tsc -p tsconfig.json`",
            );
        }
        throw error;
    }
    if (typeof runner.runBenchmark !== "function") throw new Error(`${file} does not export runBenchmark()`);
    return runner as { runBenchmark: typeof runBenchmark };
}

function integer(min: number): (text: string) => number {
    return (text) => {
        const n = Number(text);
        if (text.trim() === "" || !Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}`);
        return n;
    };
}

function list<T>(parse: (item: string) => T): (text: string) => T[] {
    return (text) => text.split(",").map((item) => item.trim()).filter((item) => item !== "").map(parse);
}

interface BenchFlags {
    device?: BenchmarkOptions["device"];
    model?: string;
    tokenizer?: string;
    problemsFile?: string;
    problems?: number;
    batch?: number;
    gen?: number[];
    configs?: string[];
    sweep?: boolean;
    sweepProblems?: number;
    sweepGen?: number;
    out?: string;
    budgetS?: number;
    threads?: number;
    progress: boolean;
    json?: boolean;
}

/** `localleap bench`: accuracy, steps and speed of the decoding configurations (bench/run.ts). */
export function benchCommand(): Command {
    return new Command("bench")
        .description("benchmark the decoding strategies on held-out problems: accuracy, steps, tokens/s, AUP (writes bench.json, bench.md, plots)")
        .addOption(new Option("--device <device>", "where to run (default cpu)").choices(["cpu", "cuda", "auto"]))
        .option("-m, --model <path>", "model.pt (default: the reference model)")
        .option("--tokenizer <path>", "tokenizer folder used to score answers (default: models/reference)")
        .option("--problems-file <path>", "held-out problems, JSON lines (default: bench/data/heldout.jsonl)")
        .option("--problems <n>", "problems of the main table (default 5 on CPU, all on CUDA)", integer(1))
        .option("--batch <n>", "problems per generate() call (default 1 on CPU, 1000 on CUDA)", integer(1))
        .option("--gen <list>", "gen lengths of the main table, comma-separated (default 128,256)", list(integer(1)))
        .option("--configs <names>", "only these configurations, comma-separated (e.g. lc-256,localleap-256)", list(String))
        .option("--sweep", "also run the kappa / tau / W sweep")
        .option("--sweep-problems <n>", "problems of the sweep (default: the main table's)", integer(1))
        .option("--sweep-gen <n>", "gen length of the sweep (default 256)", integer(1))
        .option("--out <dir>", "output folder (default bench/results/<date>-<device>)")
        .option("--budget-s <seconds>", "skip configurations that would start after this many seconds (0: none)", integer(0))
        .option("--threads <n>", "intra-op threads (0: libtorch's default)", integer(0))
        .option("--no-progress", "no progress bar")
        .option("--json", "print the report as JSON on stdout")
        .action(async (flags: BenchFlags) => {
            const options: BenchmarkOptions = {
                ...(flags.device !== undefined && { device: flags.device }),
                ...(flags.model !== undefined && { modelPath: flags.model }),
                ...(flags.tokenizer !== undefined && { tokenizerPath: flags.tokenizer }),
                ...(flags.problemsFile !== undefined && { problemsFile: flags.problemsFile }),
                ...(flags.problems !== undefined && { problems: flags.problems }),
                ...(flags.batch !== undefined && { batch: flags.batch }),
                ...(flags.gen !== undefined && { genLengths: flags.gen }),
                ...(flags.configs !== undefined && { configs: flags.configs }),
                ...(flags.sweep && { sweep: true }),
                ...(flags.sweepProblems !== undefined && { sweepProblems: flags.sweepProblems }),
                ...(flags.sweepGen !== undefined && { sweepGenLength: flags.sweepGen }),
                ...(flags.out !== undefined && { out: flags.out }),
                ...(flags.budgetS !== undefined && { budgetSeconds: flags.budgetS }),
                ...(flags.threads !== undefined && { threads: flags.threads }),
                progress: flags.progress,
                command: ["localleap bench", ...process.argv.slice(process.argv.indexOf("bench") + 1)].join(" "),
            };
            const report = await loadBenchRunner().runBenchmark(options);
            if (flags.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        });
}
