import type { FinishReason } from "../types";

/** Where the text of a generation ends (docs/decoding.md "Ending"). */
export interface TextLimits {
    endIds: ReadonlySet<number>;
    /** null: no cap. */
    maxTokens: number | null;
    stop: readonly string[];
    decode: ((ids: number[]) => string) | null;
}

/** The text a final prefix of the generated span comes to. */
export interface CutGeneration {
    tokens: number[];
    text: string;
    /** Why the text ends; null while it may still grow (the prefix is not the whole span and no limit was met). */
    reason: FinishReason | null;
}

/**
 * Cuts `prefix` (generated tokens, all committed, from position 0) where its text ends: before
 * the first end token, after maxTokens tokens, before the first stop string. `complete` says
 * the prefix is the whole generated span. Committed tokens never change, so cutting a longer
 * prefix of the same generation ends at the same place once a reason is found.
 */
export function cutGeneration(prefix: readonly number[], complete: boolean, limits: TextLimits): CutGeneration {
    let tokens = [...prefix];
    let reason: FinishReason | null = null;
    const end = tokens.findIndex((token) => limits.endIds.has(token));
    if (end >= 0) {
        tokens = tokens.slice(0, end);
        reason = "eos";
    }
    if (limits.maxTokens !== null && tokens.length >= limits.maxTokens && !(reason === "eos" && tokens.length === limits.maxTokens)) {
        tokens = tokens.slice(0, limits.maxTokens);
        reason = "max-tokens";
    }
    const decode = limits.decode;
    let text = decode === null ? "" : decode(tokens);
    if (decode !== null && limits.stop.length > 0) {
        const match = firstStop(text, limits.stop);
        if (match !== null) {
            tokens = tokens.slice(0, tokensCovering(tokens, match.at + match.stop.length, decode));
            text = text.slice(0, match.at);
            reason = "stop";
        }
    }
    if (reason === null && complete) reason = "length";
    return { tokens, text, reason };
}

/** The earliest stop string in `text` (the longest one when several start there). */
function firstStop(text: string, stops: readonly string[]): { at: number; stop: string } | null {
    let best: { at: number; stop: string } | null = null;
    for (const stop of stops) {
        const at = text.indexOf(stop);
        if (at >= 0 && (best === null || at < best.at || (at === best.at && stop.length > best.stop.length))) best = { at, stop };
    }
    return best;
}

/** The fewest leading tokens whose text is at least `length` characters long. */
function tokensCovering(tokens: readonly number[], length: number, decode: (ids: number[]) => string): number {
    let low = 1;
    let high = tokens.length;
    while (low < high) {
        const mid = (low + high) >> 1;
        if (decode(tokens.slice(0, mid)).length >= length) high = mid;
        else low = mid + 1;
    }
    return high;
}

/**
 * The part of a still-growing text that can be shown now: without a trailing replacement
 * character (a multi-byte character cut between tokens) and without a tail that could be the
 * start of a stop string.
 */
export function settledText(text: string, stops: readonly string[]): string {
    let end = text.length;
    while (end > 0 && text[end - 1] === "\uFFFD") end--;
    let hold = 0;
    for (const stop of stops) {
        for (let n = Math.min(stop.length - 1, end); n > hold; n--) {
            if (text.slice(end - n, end) === stop.slice(0, n)) {
                hold = n;
                break;
            }
        }
    }
    return text.slice(0, end - hold);
}
