import { Command } from "commander";
import { loadModel } from "../../loadModel";
import type { Model } from "../../model";
import { type GenerateOptions, parseGenerateOptions } from "../../options";
import type { GenerateInput } from "../../types";
import { createCanvasView } from "../utils/createCanvasView";
import { createLoadProgress } from "../utils/createLoadProgress";
import { formatStats } from "../utils/formatStats";
import { addGenerateFlags, addModelFlags, generateOptionsFromFlags, loadOptionsFromFlags, type ModelAndGenerateFlags } from "../utils/generateFlags";
import { readStdin } from "../utils/readStdin";

/**
 * `localleap generate [prompt]`: prints the text, then steps, finish reason and timings. The
 * prompt comes from stdin when the argument is absent or "-". `--watch` shows the canvas filling
 * in; `--json` prints the result as JSON (with `--watch`: every stream event as a JSON line).
 */
export function generateCommand(): Command {
    const command = new Command("generate")
        .description("generate text from a prompt (the argument, or stdin when it is absent or -)")
        .argument("[prompt]", "prompt text, or - to read it from stdin (with --chat: the user message)");
    addModelFlags(command);
    addGenerateFlags(command);
    return command
        .option("--chat", "send the prompt as a user message through the model's chat template")
        .option("--system <text>", "system message (with --chat)")
        .option("--watch", "draw the canvas filling in, step by step (one line per step when stdout is not a terminal)")
        .option("--json", "print the whole result as JSON (with --watch: one JSON line per stream event)")
        .addHelpText("after", "\nExamples:\n  localleap generate --chat --watch \"Tom has 3 apples and buys 5 more. How many apples does he have?\"\n  echo \"def add(a, b):\" | localleap generate --gen-length 64 --json")
        .action(runGenerate);
}

interface GenerateFlags extends ModelAndGenerateFlags {
    chat?: boolean;
    system?: string;
    watch?: boolean;
    json?: boolean;
}

async function runGenerate(promptArgument: string | undefined, flags: GenerateFlags): Promise<void> {
    const controller = new AbortController();
    const onSigint = () => controller.abort();
    process.once("SIGINT", onSigint);
    let model: Model | undefined;
    try {
        const generateOptions: GenerateOptions = { ...generateOptionsFromFlags(flags), signal: controller.signal };
        // Fail on a bad flag before reading stdin and before the (slow) model load; generate() checks again.
        const resolved = parseGenerateOptions(generateOptions);
        const prompt = promptArgument === undefined || promptArgument === "-" ? await readStdin() : promptArgument;
        const input: GenerateInput = flags.chat
            ? [...(flags.system !== undefined ? [{ role: "system" as const, content: flags.system }] : []), { role: "user" as const, content: prompt }]
            : prompt;

        const progress = flags.json ? { stop: () => undefined } : createLoadProgress();
        model = await loadModel(loadOptionsFromFlags(flags, { signal: controller.signal, onProgress: "onProgress" in progress ? progress.onProgress : undefined }))
            .finally(() => progress.stop());

        if (flags.watch && flags.json) {
            for await (const event of model.stream(input, generateOptions)) process.stdout.write(`${JSON.stringify(event)}\n`);
        } else if (flags.watch) {
            const view = createCanvasView(process.stdout, resolved);
            try {
                for await (const event of model.stream(input, generateOptions)) {
                    if (event.type === "step") {
                        view.step(event);
                    } else {
                        view.done(event.result.text);
                        process.stdout.write(`${formatStats(event.result)}\n`);
                    }
                }
            } catch (error) {
                view.clear();
                throw error;
            }
        } else {
            const result = await model.generate(input, generateOptions);
            process.stdout.write(flags.json ? `${JSON.stringify(result, null, 2)}\n` : `${result.text}\n${formatStats(result)}\n`);
        }
    } finally {
        process.removeListener("SIGINT", onSigint);
        await model?.dispose().catch(() => undefined);
    }
}
