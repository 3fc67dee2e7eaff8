import { InvalidInputError } from "../errors";
import type { GenerateInput } from "../types";

/**
 * A plain copy of a prompt (strings stay, id arrays and message lists are copied field by
 * field), read once: a Proxy or getter that throws is an InvalidInputError, not whatever it
 * threw, and one that changes between reads cannot make the checked prompt differ from the one
 * encoded. Anything else is returned as it is for encodePrompt to refuse.
 */
export function snapshotInput(input: unknown): unknown {
    try {
        if (input instanceof Int32Array) return Array.from(input);
        if (!Array.isArray(input)) return input;
        return Array.from(input as unknown[], (item) =>
            item !== null && typeof item === "object" && !Array.isArray(item) && !(item instanceof Int32Array)
                ? { role: (item as { role?: unknown }).role, content: (item as { content?: unknown }).content }
                : item,
        );
    } catch (error) {
        throw new InvalidInputError(`the prompt could not be read: ${(error as Error)?.message ?? String(error)}`,
            "pass a plain string, array of token ids, or array of { role, content } messages");
    }
}

/** The items of a batch, read once (see snapshotInput). */
export function snapshotBatch(inputs: readonly GenerateInput[]): GenerateInput[] {
    let items: unknown[];
    try {
        items = Array.from(inputs as unknown[]);
    } catch (error) {
        throw new InvalidInputError(`the batch could not be read: ${(error as Error)?.message ?? String(error)}`, "pass a plain array of prompts");
    }
    return items.map((item) => snapshotInput(item) as GenerateInput);
}
