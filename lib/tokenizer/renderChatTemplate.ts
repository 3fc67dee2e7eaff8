import vm from "node:vm";
import { Template } from "@huggingface/jinja";
import { InvalidInputError, TokenizerError } from "../errors";
import type { ChatMessage } from "../types";

/**
 * Longest a chat template may take to render. Real templates render in well under a millisecond;
 * one made of nested loops would otherwise block the JS thread forever (no signal can stop
 * synchronous code), so the render runs under node:vm's watchdog, which ends it at the deadline.
 */
export const CHAT_TEMPLATE_DEADLINE_MS = 1000;

/** One context and script for every render: `vm` only adds its watchdog (about 20 µs a call). */
const sandbox = vm.createContext({ job: null as null | (() => string) });
const runJob = new vm.Script("job()");

/** Runs `job` synchronously; throws TokenizerError TOKENIZER_INVALID when it passes the deadline. */
function withDeadline(job: () => string): string {
    sandbox.job = job;
    try {
        return runJob.runInContext(sandbox, { timeout: CHAT_TEMPLATE_DEADLINE_MS }) as string;
    } catch (error) {
        if ((error as { code?: unknown })?.code === "ERR_SCRIPT_EXECUTION_TIMEOUT") {
            throw new TokenizerError("TOKENIZER_INVALID", `the chat template did not finish rendering within ${CHAT_TEMPLATE_DEADLINE_MS} ms and was stopped`, {
                hint: "the template loops far too much: fix chat_template in tokenizer_config.json (or chatTemplate in localleap.json), or pass a string prompt with raw: true",
            });
        }
        throw error;
    } finally {
        sandbox.job = null;
    }
}

/** Thrown by the template's raise_exception(): the messages, not the template, are at fault. */
class TemplateRaised extends Error {}

/**
 * @huggingface/jinja's own raise_exception throws a plain Error, indistinguishable from a broken
 * template, and cannot be overridden; calls are renamed to ours, which marks the error.
 */
const RAISE = "localleap_raise_exception";

/**
 * A compiled chat template. localleap's own type, so that no third-party type reaches the
 * public API's declarations.
 */
export interface ChatTemplate {
    /** The prompt text for `messages`, with the generation prompt added. */
    render(messages: readonly ChatMessage[], tokens: { bosToken: string | null; eosToken: string | null }): string;
}

/** Parses a chat template once; a broken template is a tokenizer problem, reported at load. */
export function compileChatTemplate(source: string, origin: string): ChatTemplate {
    try {
        const template = new Template(source.replace(/\braise_exception\s*\(/g, `${RAISE}(`));
        return { render: (messages, tokens) => renderChatTemplate(template, messages, tokens) };
    } catch (error) {
        throw new TokenizerError("TOKENIZER_INVALID", `the chat template from ${origin} cannot be parsed: ${(error as Error).message}`, {
            hint: "fix chat_template in tokenizer_config.json (or chatTemplate in localleap.json), or pass a string prompt instead of messages",
            cause: error,
        });
    }
}

/**
 * Renders chat messages the way Hugging Face's apply_chat_template does for generation:
 * `messages`, `add_generation_prompt: true`, `bos_token`, `eos_token` and `raise_exception`.
 */
function renderChatTemplate(
    template: Template,
    messages: readonly ChatMessage[],
    tokens: { bosToken: string | null; eosToken: string | null },
): string {
    try {
        return withDeadline(() => template.render({
            messages: messages.map(({ role, content }) => ({ role, content })),
            add_generation_prompt: true,
            bos_token: tokens.bosToken ?? "",
            eos_token: tokens.eosToken ?? "",
            [RAISE]: (message: unknown) => {
                throw new TemplateRaised(String(message));
            },
        }));
    } catch (error) {
        if (error instanceof TokenizerError) throw error;
        if (error instanceof TemplateRaised) {
            throw new InvalidInputError(`the model's chat template rejected these messages: ${error.message}`,
                "follow the template's rules (e.g. alternate user and assistant turns), or pass a string prompt");
        }
        throw new TokenizerError("TOKENIZER_INVALID", `the chat template failed to render: ${(error as Error).message}`, {
            hint: "fix the chat template, or pass a string prompt instead of messages",
            cause: error,
        });
    }
}
