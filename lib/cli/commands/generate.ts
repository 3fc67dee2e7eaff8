import { Command, Option } from "commander";
import { loadModel } from "../../loadModel";
import type { GenerateOptions, LoadModelOptions } from "../../options";
import { parseGenerateOptions, STRATEGIES } from "../../options";
import type { GenerateInput } from "../../types";
import { createLoadProgress } from "../utils/createLoadProgress";
import { formatStats } from "../utils/formatStats";
import { parseNumberFlag } from "../utils/parseNumberFlag";

/** The generate-option flags: each option name in kebab-case, so flags and API never drift. */
const GENERATE_FLAGS: [flag: string, key: keyof GenerateOptions, description: string, numeric: boolean][] = [
    ["--gen-length <n>", "genLength", "tokens to generate (default 128)", true],
    ["--block-length <n>", "blockLength", "block length, divides gen-length (default 32)", true],
    ["--strategy <name>", "strategy", `commit rule: ${STRATEGIES.join(", ")} (default localleap)`, false],
    ["--steps <n>", "steps", "total steps, low-confidence and random only (default gen-length)", true],
    ["--threshold <x>", "threshold", "confidence threshold, threshold strategy only (default 0.9)", true],
    ["--anchor-threshold <x>", "anchorThreshold", "anchor threshold kappa, localleap only (default 0.9)", true],
    ["--relaxed-threshold <x>", "relaxedThreshold", "relaxed threshold tau, localleap only (default 0.75)", true],
    ["--radius <n>", "radius", "neighbourhood radius W, localleap only (default 4)", true],
    ["--temperature <x>", "temperature", "sampling temperature, 0 is greedy (default 0)", true],
    ["--seed <n>", "seed", "seed (default 0, or random when temperature > 0)", true],
];

/** `localleap generate <prompt>`: prints the text, then steps, finish reason and timings. */
export function generateCommand(): Command {
    const command = new Command("generate")
        .description("generate text from a prompt")
        .argument("<prompt>", "prompt text (with --chat: the user message)")
        .option("-m, --model <path>", "model.pt to load (default: the package's reference model)")
        .option("--tokenizer <path>", "tokenizer folder or tokenizer.json, instead of the model's own")
        .option("--device <device>", "cpu, cuda or auto (default auto)")
        .option("--threads <n>", "intra-op threads (default: libtorch's)", parseNumberFlag);
    for (const [flag, , description, numeric] of GENERATE_FLAGS) {
        command.addOption(numeric ? new Option(flag, description).argParser(parseNumberFlag) : new Option(flag, description));
    }
    return command
        .option("--stop-at-eos", "stop after the first block holding an end token")
        .option("--no-cuda-graph", "run CUDA steps eagerly instead of as CUDA graphs")
        .option("--chat", "send the prompt as a user message through the model's chat template")
        .option("--system <text>", "system message (with --chat)")
        .option("--json", "print the whole result as JSON")
        .action(runGenerate);
}

interface GenerateFlags {
    model?: string;
    tokenizer?: string;
    device?: string;
    threads?: number | string;
    stopAtEos?: boolean;
    cudaGraph?: boolean;
    chat?: boolean;
    system?: string;
    json?: boolean;
    [key: string]: unknown;
}

async function runGenerate(prompt: string, flags: GenerateFlags): Promise<void> {
    const controller = new AbortController();
    const onSigint = () => controller.abort();
    process.once("SIGINT", onSigint);
    const progress = flags.json ? { stop: () => undefined } : createLoadProgress();
    // Options are passed through unchecked: loadModel and generate validate them and say what is wrong.
    const loadOptions = defined({
        modelPath: flags.model,
        tokenizerPath: flags.tokenizer,
        device: flags.device,
        threads: flags.threads,
        signal: controller.signal,
        onProgress: "onProgress" in progress ? progress.onProgress : undefined,
    }) as LoadModelOptions;
    const generateOptions = defined({
        ...Object.fromEntries(GENERATE_FLAGS.map(([, key]) => [key, flags[key]])),
        stopAtEos: flags.stopAtEos,
        cudaGraph: flags.cudaGraph === false ? false : undefined,
        signal: controller.signal,
    }) as GenerateOptions;
    const input: GenerateInput = flags.chat
        ? [...(flags.system !== undefined ? [{ role: "system" as const, content: flags.system }] : []), { role: "user" as const, content: prompt }]
        : prompt;

    let model;
    try {
        // Fail on a bad flag before the (slow) model load; generate() checks again.
        parseGenerateOptions(generateOptions);
        model = await loadModel(loadOptions).finally(() => progress.stop());
        const result = await model.generate(input, generateOptions);
        if (flags.json) {
            process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        } else {
            process.stdout.write(`${result.text}\n${formatStats(result)}\n`);
        }
    } finally {
        process.removeListener("SIGINT", onSigint);
        await model?.dispose().catch(() => undefined);
    }
}

/** Drops undefined values, so that absent flags take the library's defaults. */
function defined(values: Record<string, unknown>): Record<string, unknown> {
    return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined));
}
