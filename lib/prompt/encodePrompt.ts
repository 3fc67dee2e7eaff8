import { InvalidInputError } from "../errors";
import type { ChatTemplate } from "../tokenizer/renderChatTemplate";
import type { TextTokenizer } from "../tokenizer/TextTokenizer";
import type { ChatMessage, ChatRole, GenerateInput } from "../types";
import { formatValue } from "../utils/formatValue";
import { checkTokenIds } from "./checkTokenIds";
import { encodeProtected, encodeUserText, newProtection, protect } from "./protectSpecialText";
import { snapshotInput } from "./snapshotInput";

/** What encoding a prompt needs to know about the model. */
export interface PromptContext {
    tokenizer: TextTokenizer | null;
    chatTemplate: ChatTemplate | null;
    /** Token texts for the chat template. */
    bosToken: string | null;
    eosToken: string | null;
    /** Prepended to string prompts when the metadata says addBos. */
    bosId: number | null;
    vocabSize: number;
    maskId: number;
}

const ROLES: readonly ChatRole[] = ["system", "user", "assistant"];
const INPUT_HINT = "pass a non-empty string, an array of token ids, or chat messages [{ role, content }]";

/**
 * Token ids of a prompt: a string (the user's message through the chat template when the model
 * has one and `raw` is false, else plain text), token ids (checked) or chat messages.
 */
export function encodePrompt(given: GenerateInput, ctx: PromptContext, raw = false, specialTokens = false): number[] {
    const input = snapshotInput(given) as GenerateInput;
    if (typeof input === "string") {
        if (!raw && ctx.chatTemplate !== null) {
            if (input === "") throw new InvalidInputError("the prompt is empty", INPUT_HINT);
            return encodeMessages([{ role: "user", content: input }], ctx, specialTokens);
        }
        return encodeText(input, ctx, specialTokens);
    }
    if (input instanceof Int32Array || Array.isArray(input)) {
        if (input.length === 0) throw new InvalidInputError("the prompt is empty", INPUT_HINT);
        const items = Array.from(input as ArrayLike<unknown>);
        if (items.every((item) => typeof item === "number")) {
            checkTokenIds(items as number[], ctx.vocabSize, ctx.maskId, "the prompt's token ids");
            return items as number[];
        }
        if (items.every((item) => item !== null && typeof item === "object" && !Array.isArray(item))) {
            return encodeMessages(items as ChatMessage[], ctx, specialTokens);
        }
        throw new InvalidInputError("the prompt array mixes token ids with other values", INPUT_HINT);
    }
    throw new InvalidInputError(`the prompt is ${formatValue(input)}`, INPUT_HINT);
}

function requireTokenizer(ctx: PromptContext, what: string): TextTokenizer {
    if (ctx.tokenizer === null) {
        throw new InvalidInputError(`this model has no tokenizer, so it cannot take ${what}`,
            "pass token ids, or load the model with tokenizerPath (a folder with tokenizer.json and tokenizer_config.json)");
    }
    return ctx.tokenizer;
}

function encodeText(text: string, ctx: PromptContext, specialTokens: boolean): number[] {
    if (text === "") throw new InvalidInputError("the prompt is empty", INPUT_HINT);
    const tokenizer = requireTokenizer(ctx, "a text prompt");
    // BOS comes from the metadata, not the tokenizer's post-processor, so it is added exactly once.
    // User text is text: special-token texts in it are encoded as what they spell.
    const ids = encodeUserText(text, tokenizer, specialTokens);
    if (ctx.bosId !== null && ids[0] !== ctx.bosId) ids.unshift(ctx.bosId);
    return checked(ids, ctx);
}

function encodeMessages(messages: readonly ChatMessage[], ctx: PromptContext, specialTokens: boolean): number[] {
    messages.forEach((message, i) => {
        if (!ROLES.includes(message.role)) {
            throw new InvalidInputError(`messages[${i}].role is ${formatValue(message.role)}; allowed: ${ROLES.map((r) => `"${r}"`).join(", ")}`,
                `give every message a role of ${ROLES.join(", ")} and a string content`);
        }
        if (typeof message.content !== "string") {
            throw new InvalidInputError(`messages[${i}].content is ${formatValue(message.content)}; allowed: a string`,
                "give every message a string content");
        }
    });
    const tokenizer = requireTokenizer(ctx, "chat messages");
    if (ctx.chatTemplate === null) {
        throw new InvalidInputError("this model has no chat template, so it cannot take chat messages",
            "pass the prompt as a string formatted for the model, or load it with a tokenizerPath whose tokenizer_config.json has chat_template");
    }
    // The template writes BOS and turn markers itself; special-token texts in the messages stay
    // text (a user cannot fake a system turn), unless specialTokens opts in.
    if (specialTokens) return checked(tokenizer.encode(ctx.chatTemplate.render(messages, { bosToken: ctx.bosToken, eosToken: ctx.eosToken }), false), ctx);
    const p = newProtection(messages.map((m) => m.content));
    const guarded = messages.map(({ role, content }) => ({ role, content: protect(content, tokenizer.specialTexts, p) }));
    const text = ctx.chatTemplate.render(guarded, { bosToken: ctx.bosToken, eosToken: ctx.eosToken });
    return checked(encodeProtected(text, p, tokenizer), ctx);
}

function checked(ids: number[], ctx: PromptContext): number[] {
    if (ids.length === 0) throw new InvalidInputError("the prompt encodes to no tokens", INPUT_HINT);
    checkTokenIds(ids, ctx.vocabSize, ctx.maskId, "the encoded prompt");
    return ids;
}
