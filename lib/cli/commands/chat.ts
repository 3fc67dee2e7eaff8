import { createInterface, type Interface } from "node:readline";
import { Command } from "commander";
import { AbortError, InvalidInputError, LocalleapError } from "../../errors";
import { loadModel } from "../../loadModel";
import type { Model } from "../../model";
import { type GenerateOptions, parseGenerateOptions, type ResolvedGenerateOptions } from "../../options";
import { ChatSession } from "../../ChatSession";
import type { GenerateResult } from "../../types";
import { createCanvasView } from "../utils/createCanvasView";
import { createLoadProgress } from "../utils/createLoadProgress";
import { formatError } from "../utils/formatError";
import { addGenerateFlags, addModelFlags, generateOptionsFromFlags, loadOptionsFromFlags, type ModelAndGenerateFlags } from "../utils/generateFlags";

const HELP = "/reset clears the history, /history shows it, /exit quits (Ctrl+C stops an answer)";

/**
 * `localleap chat`: a conversation through the model's chat template. Each line read is a user
 * message; the answer is printed with its step count, and both join the history that the next
 * turn sees. Reads lines from stdin when it is piped, so it can be scripted and tested.
 */
export function chatCommand(): Command {
    const command = new Command("chat").description("chat with a model: each line is a user message; the history is kept until /reset");
    addModelFlags(command);
    addGenerateFlags(command);
    return command
        .option("--system <text>", "system message at the start of the conversation")
        .option("--watch", "draw each answer's canvas filling in (terminal only)")
        .option("--json", "print one JSON line per turn: { type: \"turn\", turn, user, result }")
        .addHelpText("after", `\nIn the chat: ${HELP}.\nExample: printf 'Tom has 3 apples and buys 5 more. How many apples does he have?\\n' | localleap chat`)
        .action(runChat);
}

interface ChatFlags extends ModelAndGenerateFlags {
    system?: string;
    watch?: boolean;
    json?: boolean;
}

async function runChat(flags: ChatFlags): Promise<void> {
    const generateOptions = generateOptionsFromFlags(flags);
    // Fail on a bad flag before the (slow) model load.
    const resolved = parseGenerateOptions(generateOptions);
    const interactive = process.stdin.isTTY === true && process.stdout.isTTY === true;
    const loadController = new AbortController();
    const onLoadSigint = () => loadController.abort();
    process.once("SIGINT", onLoadSigint);
    const progress = flags.json ? { stop: () => undefined } : createLoadProgress();
    let model: Model;
    try {
        model = await loadModel(loadOptionsFromFlags(flags, { signal: loadController.signal, onProgress: "onProgress" in progress ? progress.onProgress : undefined }));
    } finally {
        progress.stop();
        process.removeListener("SIGINT", onLoadSigint);
    }
    try {
        if (!model.info.hasChatTemplate) {
            throw new InvalidInputError(`${model.info.metadata.name} has no chat template, so it cannot chat`,
                "use `localleap generate`, or pass --tokenizer with a tokenizer_config.json that has chat_template");
        }
        await new ChatLoop(model, flags, generateOptions, resolved, interactive).run();
    } finally {
        await model.dispose().catch(() => undefined);
    }
}

/** The terminal side of a chat: lines in, answers out; the history lives in a library ChatSession. */
class ChatLoop {
    private readonly session: ChatSession;
    private turn = 0;
    /** Aborts the answer being generated; null between answers. */
    private answering: AbortController | null = null;
    private readonly rl: Interface;

    constructor(
        private readonly model: Model,
        private readonly flags: ChatFlags,
        private readonly options: GenerateOptions,
        private readonly resolved: ResolvedGenerateOptions,
        private readonly interactive: boolean,
    ) {
        this.session = new ChatSession(model, flags.system !== undefined ? { systemPrompt: flags.system } : {});
        // Created after the model loads: piped lines wait in stdin until then.
        this.rl = createInterface({ input: process.stdin, output: interactive ? process.stdout : undefined, terminal: interactive, historySize: 100 });
        this.rl.setPrompt("> ");
    }

    async run(): Promise<void> {
        // Ctrl+C: stops the answer being generated, or ends the chat at the prompt.
        const onSigint = () => (this.answering !== null ? this.answering.abort() : this.rl.close());
        this.rl.on("SIGINT", onSigint);
        process.on("SIGINT", onSigint);
        try {
            if (this.interactive) {
                const { name } = this.model.info.metadata;
                process.stderr.write(`chatting with ${name} on ${this.model.info.device}: ${HELP}\n`);
                this.rl.prompt();
            }
            for await (const line of this.rl) {
                const keepGoing = await this.handle(line.trim());
                if (!keepGoing) break;
                if (this.interactive) this.rl.prompt();
            }
        } finally {
            process.removeListener("SIGINT", onSigint);
            this.rl.close();
        }
    }

    /** One line of input; false ends the chat. */
    private async handle(line: string): Promise<boolean> {
        if (line === "") return true;
        if (line.startsWith("/")) return this.command(line);
        this.turn++;
        const controller = new AbortController();
        this.answering = controller;
        let result: GenerateResult;
        try {
            result = await this.answer(line, { ...this.options, signal: controller.signal } as GenerateOptions);
        } catch (error) {
            // The turn did not happen (the session kept its history as it was).
            this.turn--;
            if (error instanceof AbortError) {
                process.stderr.write("(stopped)\n");
                return true;
            }
            if (error instanceof LocalleapError) {
                process.stderr.write(`${formatError(error)}\n`);
                if (error.code === "PROMPT_TOO_LONG") process.stderr.write("(the conversation is too long for the model: /reset starts over)\n");
                return true;
            }
            throw error;
        } finally {
            this.answering = null;
        }
        if (this.flags.json) {
            process.stdout.write(`${JSON.stringify({ type: "turn", turn: this.turn, user: line, result })}\n`);
        } else {
            const t = result.timings;
            if (!(this.flags.watch && this.interactive)) process.stdout.write(`${result.text}\n`);
            // Stats on stderr: piping stdout gives only the answers.
            process.stderr.write(`[${result.steps} steps, ${result.tokens.length} tokens, finish ${result.finishReason}, ${result.promptTokens} prompt tokens, ${(t.totalMs / 1000).toFixed(2)} s]\n`);
        }
        return true;
    }

    /** Generates the next assistant message from the history, drawing it live with --watch. */
    private async answer(line: string, options: GenerateOptions): Promise<GenerateResult> {
        if (!(this.flags.watch && this.interactive && !this.flags.json)) return this.session.prompt(line, options);
        const view = createCanvasView(process.stdout, this.resolved);
        try {
            const result = await this.session.prompt(line, { ...options, onStep: (event) => view.step(event) } as GenerateOptions);
            view.done(result.text);
            return result;
        } catch (error) {
            view.clear();
            throw error;
        }
    }

    private command(line: string): boolean {
        const [name] = line.split(/\s+/);
        switch (name) {
            case "/exit":
            case "/quit":
                return false;
            case "/reset":
                this.session.reset();
                this.turn = 0;
                if (this.flags.json) process.stdout.write(`${JSON.stringify({ type: "reset" })}\n`);
                else process.stderr.write("(history cleared)\n");
                return true;
            case "/history":
                for (const m of this.session.history) process.stderr.write(`${m.role}: ${m.content}\n`);
                if (this.session.history.length === 0) process.stderr.write("(empty)\n");
                return true;
            case "/help":
                process.stderr.write(`${HELP}\n`);
                return true;
            default:
                process.stderr.write(`unknown command ${name}: ${HELP}\n`);
                return true;
        }
    }
}
