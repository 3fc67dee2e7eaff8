import type { GenerateInput } from "../types";

/**
 * Whether generate() was given several inputs: an array whose items are prompts themselves
 * (strings, token-id arrays, Int32Arrays or message lists), not token ids or chat messages.
 */
export function isBatch(input: GenerateInput | readonly GenerateInput[]): input is readonly GenerateInput[] {
    try {
        return (
            Array.isArray(input) &&
            input.length > 0 &&
            input.every((item: unknown) => typeof item === "string" || Array.isArray(item) || item instanceof Int32Array)
        );
    } catch {
        return false; // an unreadable array (a Proxy that throws): encodePrompt refuses it as one prompt
    }
}
