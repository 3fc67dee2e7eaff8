import { InvalidInputError } from "./errors";
import type { Model } from "./model";
import type { GenerateOptions } from "./options";
import type { ChatMessage, GenerateResult } from "./types";

/** Options of {@link ChatSession}. */
export interface ChatSessionOptions {
    /** A system message at the start of the conversation. */
    systemPrompt?: string;
    /** Earlier turns to continue from (after the system message). */
    history?: readonly ChatMessage[];
}

/**
 * A conversation with a chat model: each {@link ChatSession.prompt} sends the history plus the
 * new user message through the model's chat template and, once the answer is complete, adds
 * both to the history. A turn that fails or is aborted leaves the history as it was. Prompts
 * made while one is running wait for it, so turns keep their order.
 */
export class ChatSession {
    readonly model: Model;
    private readonly system: ChatMessage[];
    private turns: ChatMessage[];
    private last: Promise<unknown> = Promise.resolve();

    constructor(model: Model, options: ChatSessionOptions = {}) {
        if (!model.info.hasChatTemplate) {
            throw new InvalidInputError(`${model.info.metadata.name} has no chat template, so it cannot hold a chat session`,
                "use model.generate() with text the model expects, or load it with a tokenizerPath whose tokenizer_config.json has chat_template");
        }
        if (options.systemPrompt !== undefined && typeof options.systemPrompt !== "string") {
            throw new InvalidInputError("systemPrompt must be a string", "pass the system message as text, or omit it");
        }
        this.model = model;
        this.system = options.systemPrompt === undefined ? [] : [{ role: "system", content: options.systemPrompt }];
        this.turns = [...(options.history ?? [])].map(({ role, content }) => ({ role, content }));
    }

    /** The conversation so far: the system message, then the turns. */
    get history(): readonly ChatMessage[] {
        return [...this.system, ...this.turns];
    }

    /** Answers `message` in the context of the history; resolves to the answer's result. */
    prompt(message: string, options?: GenerateOptions): Promise<GenerateResult> {
        const run = this.last.then(async () => {
            if (typeof message !== "string" || message.trim() === "") {
                throw new InvalidInputError("the message is empty", "pass the user's message as a non-empty string");
            }
            const user: ChatMessage = { role: "user", content: message };
            const result = await this.model.generate([...this.history, user], options);
            this.turns.push(user, { role: "assistant", content: result.text });
            return result;
        });
        this.last = run.catch(() => undefined);
        return run;
    }

    /** Forgets the turns (keeps the system message). */
    reset(): void {
        this.turns = [];
    }
}
