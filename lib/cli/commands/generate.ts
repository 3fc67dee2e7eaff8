import { Command } from "commander";
import { InvalidInputError } from "../../errors";
import { loadModel } from "../../loadModel";
import type { Model } from "../../model";
import { type GenerateOptions, parseGenerateOptions } from "../../options";
import type { GenerateInput } from "../../types";
import { createCanvasView } from "../utils/createCanvasView";
import { createLoadProgress } from "../utils/createLoadProgress";
import { formatStats } from "../utils/formatStats";
import { addGenerateFlags, addModelFlags, generateOptionsFromFlags, loadOptionsFromFlags, type ModelAndGenerateFlags } from "../utils/generateFlags";
import { readStdin } from "../utils/readStdin";
import { withJsonErrors } from "../utils/errorJson";

/**
 * `localleap generate [prompt]`: prints the text on stdout; steps, finish reason and timings
 * (and load progress) go to stderr, so that piping stdout gives only the answer. The prompt
 * comes from stdin when the argument is absent or "-". A string prompt goes through the model's
 * chat template when it has one (--raw sends it as plain text). `--watch` shows the canvas
 * filling in; `--json` prints one JSON document (the result, or `{ "error": ... }`); with
 * `--watch --json`, one JSON line per stream event.
 */
export function generateCommand(): Command {
    const command = new Command("generate")
        .description("generate text from a prompt (the argument, or stdin when it is absent or -)")
        .argument("[prompt]", "prompt text, or - to read it from stdin (the user message when the model has a chat template)");
    addModelFlags(command);
    addGenerateFlags(command);
    return command
        .option("--chat", "require the chat template (an error for a model without one); the default uses it when there is one")
        .option("--raw", "send the prompt as plain text, without the chat template")
        .option("--system <text>", "system message (through the chat template)")
        .option("--watch", "draw the canvas filling in, step by step (one line per step when stdout is not a terminal)")
        .option("--json", "print the result (or the error) as one JSON document (with --watch: one JSON line per stream event)")
        .addHelpText("after", "\nExamples:\n  localleap generate --watch \"Tom has 3 apples and buys 5 more. How many apples does he have?\"\n  echo \"Tom has 3 apples.\" | localleap generate --gen-length 64 --json")
        .action((prompt: string | undefined, flags: GenerateFlags) => withJsonErrors(flags.json, flags.watch === true, () => runGenerate(prompt, flags)));
}

interface GenerateFlags extends ModelAndGenerateFlags {
    chat?: boolean;
    raw?: boolean;
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
        if (flags.chat && flags.raw) throw new InvalidInputError("--chat and --raw contradict each other", "drop one of them");
        const generateOptions = { ...generateOptionsFromFlags(flags), ...(flags.raw && { raw: true }), signal: controller.signal } as GenerateOptions;
        // Fail on a bad flag before reading stdin and before the (slow) model load; generate() checks again.
        const resolved = parseGenerateOptions(generateOptions);
        const prompt = promptArgument === undefined || promptArgument === "-" ? await readStdin() : promptArgument;

        const progress = flags.json ? { stop: () => undefined } : createLoadProgress();
        model = await loadModel(loadOptionsFromFlags(flags, { signal: controller.signal, onProgress: "onProgress" in progress ? progress.onProgress : undefined }))
            .finally(() => progress.stop());
        if ((flags.chat || flags.system !== undefined) && !model.info.hasChatTemplate) {
            throw new InvalidInputError(`${model.info.metadata.name} has no chat template, so --${flags.chat ? "chat" : "system"} cannot be used`,
                "drop the flag and pass the prompt as the model expects it");
        }
        const input: GenerateInput = flags.system !== undefined
            ? [{ role: "system", content: flags.system }, { role: "user", content: prompt }]
            : prompt;

        if (flags.watch && flags.json) {
            for await (const event of model.stream(input, generateOptions)) process.stdout.write(`${JSON.stringify(event)}\n`);
        } else if (flags.watch) {
            const view = createCanvasView(process.stdout, resolved);
            try {
                for await (const event of model.stream(input, generateOptions)) {
                    if (event.type === "step") {
                        view.step(event);
                    } else if (event.type === "done") {
                        view.done(event.result.text);
                        process.stderr.write(`${formatStats(event.result)}\n`);
                    }
                }
            } catch (error) {
                view.clear();
                throw error;
            }
        } else {
            const result = await model.generate(input, generateOptions);
            if (flags.json) {
                process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
            } else {
                process.stdout.write(`${result.text}\n`);
                process.stderr.write(`${formatStats(result)}\n`);
            }
        }
    } finally {
        process.removeListener("SIGINT", onSigint);
        await model?.dispose().catch(() => undefined);
    }
}
