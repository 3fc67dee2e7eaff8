import { type Command, Option } from "commander";
import type { GenerateOptionName, GenerateOptions, LoadModelOptions } from "../../options";
import { CACHE_MODES, DEFAULT_CACHE, STRATEGIES } from "../../options";
import type { LoadProgress } from "../../types";
import { parseNumberFlag } from "./parseNumberFlag";

/** The generate-option flags: each option name in kebab-case, so flags and API never drift. */
export const GENERATE_FLAGS: [flag: string, key: GenerateOptionName, description: string, numeric: boolean][] = [
    ["--gen-length <n>", "genLength", "tokens to generate (default 128)", true],
    ["--block-length <n>", "blockLength", "block length, divides gen-length (default 32)", true],
    ["--strategy <name>", "strategy", `commit rule: ${STRATEGIES.join(", ")} (default localleap)`, false],
    ["--steps <n>", "steps", "total steps, low-confidence and random only (default gen-length)", true],
    ["--threshold <x>", "threshold", "confidence threshold, threshold strategy only (default 0.9)", true],
    ["--anchor-threshold <x>", "anchorThreshold", "anchor threshold kappa, localleap only (default 0.9)", true],
    ["--relaxed-threshold <x>", "relaxedThreshold", "relaxed threshold tau, localleap only (default 0.75)", true],
    ["--radius <n>", "radius", "neighbourhood radius W, localleap only (default 4)", true],
    ["--accept-threshold <x>", "acceptThreshold", "learned filter's accept threshold t, learned only (default: the filter's, else 0.96)", true],
    ["--temperature <x>", "temperature", "sampling temperature, 0 is greedy (default 0)", true],
    ["--seed <n>", "seed", "seed (default 0, or random when temperature > 0)", true],
    ["--cache <mode>", "cache", `KV cache: ${CACHE_MODES.join(", ")} (default ${DEFAULT_CACHE} on format-v2 models, none on v1)`, false],
    ["--max-tokens <n>", "maxTokens", "most tokens of text to return; the decode ends once they are final", true],
    ["--mixture-weight <x>", "mixtureWeight", "APD's R in [0, 1], the dLLM's share of the mixture, apd only (default 0.7)", true],
    ["--kv-window <n>", "kvWindow", "APD's W, the dLLM's KV recompute window (an integer >= 1, or none: no dLLM cache), apd only (default 16)", true],
    ["--max-lookahead <n>", "maxLookahead", "APD's M, masked positions drafted per step, apd only (default 100)", true],
];

/** --kv-window none (or null): no dLLM KV cache (commander keeps the text; generateOptionsFromFlags maps it to null). */
function parseKvWindowFlag(text: string): number | string {
    const trimmed = text.trim().toLowerCase();
    return trimmed === "none" || trimmed === "null" ? "none" : parseNumberFlag(text);
}

/** Flags every command that loads a model and generates shares (generate, chat). */
export interface ModelAndGenerateFlags {
    model?: string;
    tokenizer?: string;
    arModel?: string;
    device?: string;
    threads?: number | string;
    stopAtEos?: boolean;
    endOfText?: boolean;
    cudaGraph?: boolean;
    stop?: string[];
    [key: string]: unknown;
}

/** Adds the model flags (--model, --tokenizer, --device, --threads). */
export function addModelFlags(command: Command): Command {
    return command
        .option("-m, --model <path>", "model.pt to load (default: the package's reference model)")
        .option("--tokenizer <path>", "tokenizer folder or tokenizer.json, instead of the model's own")
        .option("--ar-model <path>", "causal LM archive (kind causal) of strategy apd, loaded beside the model (apd.arModelPath; default with the embedded model: its own)")
        .option("--device <device>", "cpu, cuda (GPU 0), cuda:N (GPU N) or auto (default auto)")
        .option("--threads <n>", "intra-op threads (default: libtorch's)", parseNumberFlag);
}

/** Adds one flag per generate option, plus --stop-at-eos, --end-of-text and --no-cuda-graph. */
export function addGenerateFlags(command: Command): Command {
    for (const [flag, key, description, numeric] of GENERATE_FLAGS) {
        const parser = key === "kvWindow" ? parseKvWindowFlag : parseNumberFlag;
        command.addOption(numeric ? new Option(flag, description).argParser(parser) : new Option(flag, description));
    }
    return command
        .option("--stop <text>", "stop string: the text ends before it (repeat for several)", (value: string, previous: string[] = []) => [...previous, value])
        .option("--stop-at-eos", "stop after the first block holding an end token")
        .option("--end-of-text", "stop a row at the step that commits an end token with nothing masked before it (EoTP)")
        .option("--no-cuda-graph", "run CUDA steps eagerly instead of as CUDA graphs")
        .option("--adaptive-block", "AdaBlock's adaptive block length: a block ends at a confident predicted newline (block-length is the default length)")
        .addOption(new Option("--adaptive-window <n>", "positions past a block start searched for a delimiter (implies --adaptive-block; default gen-length / 4)").argParser(parseNumberFlag))
        .addOption(new Option("--delimiter-threshold <x>", "confidence a delimiter needs to end a block (implies --adaptive-block; default the model's, else 0.3)").argParser(parseNumberFlag));
}

/**
 * loadModel options from the flags. Values are passed through unchecked: loadModel validates
 * them and says what is wrong.
 */
export function loadOptionsFromFlags(flags: ModelAndGenerateFlags, extra: { signal?: AbortSignal; onProgress?: ((p: LoadProgress) => void) | undefined }): LoadModelOptions {
    return defined({
        modelPath: flags.model,
        tokenizerPath: flags.tokenizer,
        // --strategy apd without --ar-model: the embedded model's own causal LM (loadModel refuses it with --model).
        apd: flags.arModel !== undefined ? { arModelPath: flags.arModel } : flags.strategy === "apd" ? {} : undefined,
        device: flags.device,
        threads: flags.threads,
        signal: extra.signal,
        onProgress: extra.onProgress,
    }) as LoadModelOptions;
}

/** generate options from the flags (unchecked, like {@link loadOptionsFromFlags}). */
export function generateOptionsFromFlags(flags: ModelAndGenerateFlags): GenerateOptions {
    return defined({
        ...Object.fromEntries(GENERATE_FLAGS.map(([, key]) => [key, flags[key]])),
        ...(flags.kvWindow === "none" && { kvWindow: null }),
        stopAtEos: flags.stopAtEos,
        endOfText: flags.endOfText,
        stop: flags.stop,
        cudaGraph: flags.cudaGraph === false ? false : undefined,
        adaptiveBlock: adaptiveBlockFromFlags(flags),
    }) as GenerateOptions;
}

/** --adaptive-block, --adaptive-window, --delimiter-threshold as the adaptiveBlock option (either number implies the flag). */
function adaptiveBlockFromFlags(flags: ModelAndGenerateFlags): GenerateOptions["adaptiveBlock"] {
    const window = flags.adaptiveWindow as number | undefined;
    const delimiterThreshold = flags.delimiterThreshold as number | undefined;
    if (window === undefined && delimiterThreshold === undefined) return flags.adaptiveBlock === true ? true : undefined;
    return defined({ window, delimiterThreshold }) as { window?: number; delimiterThreshold?: number };
}

/** Drops undefined values, so that absent flags take the library's defaults. */
export function defined(values: Record<string, unknown>): Record<string, unknown> {
    return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined));
}
