import { PromptTooLongError } from "../errors";
import type { GenerateInput } from "../types";

/**
 * Most characters of prompt text per model position accepted before tokenizing: ordinary text
 * takes 3-5 characters a token and no common tokenizer's tokens are longer than 32, so a longer
 * prompt cannot fit and is refused before the (synchronous) tokenizer spends time on it.
 */
export const MAX_PROMPT_CHARS_PER_POSITION = 32;

/** Refuses prompt text that cannot fit `maxLength` positions, before any tokenizing. */
export function checkPromptChars(input: GenerateInput, maxLength: number, index: number | undefined): void {
    let chars = 0;
    if (typeof input === "string") chars = input.length;
    else if (Array.isArray(input)) for (const item of input as unknown[]) chars += typeof (item as { content?: unknown })?.content === "string" ? ((item as { content: string }).content.length) : 0;
    const limit = maxLength * MAX_PROMPT_CHARS_PER_POSITION;
    if (chars > limit) {
        throw new PromptTooLongError({
            message: `${index === undefined ? "the prompt" : `prompt ${index} of the batch`} has ${chars} characters; this model takes at most ${maxLength} tokens, ` +
                `which no text over ${limit} characters (${MAX_PROMPT_CHARS_PER_POSITION} a token) fits: it was refused before tokenizing`,
        });
    }
}
