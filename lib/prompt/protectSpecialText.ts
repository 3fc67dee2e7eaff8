import type { TextTokenizer } from "../tokenizer/TextTokenizer";

/** Special-token texts found in user text, replaced by sentinels until the prompt is encoded. */
export interface ProtectedText {
    /** The special-token texts in the order their sentinels were placed. */
    literals: string[];
    /** Wraps the index of a literal into its sentinel. */
    open: string;
    close: string;
}

/**
 * Private-use code points for the sentinels, chosen so that none occurs in `texts`: a user who
 * writes the sentinel characters themselves cannot forge one.
 */
export function newProtection(texts: readonly string[]): ProtectedText {
    const used = (c: string) => texts.some((t) => t.includes(c));
    let code = 0xe000;
    while (used(String.fromCharCode(code)) || used(String.fromCharCode(code + 1))) code += 2;
    return { literals: [], open: String.fromCharCode(code), close: String.fromCharCode(code + 1) };
}

/** `text` with every occurrence of a special-token text replaced by a sentinel. */
export function protect(text: string, specialTexts: readonly string[], p: ProtectedText): string {
    if (specialTexts.length === 0) return text;
    const pattern = new RegExp(specialTexts.map(escapeRegExp).sort((a, b) => b.length - a.length).join("|"), "g");
    return text.replace(pattern, (literal) => {
        p.literals.push(literal);
        return `${p.open}${p.literals.length - 1}${p.close}`;
    });
}

/**
 * Token ids of `text` (a rendered prompt, or a plain one) in which special-token texts that came
 * from the user were protected: the text between sentinels is encoded as usual (special tokens
 * the template wrote stay special), each protected literal as plain text. Special tokens split
 * the text in a normal encoding anyway, so this differs from it only in those literals.
 */
export function encodeProtected(text: string, p: ProtectedText, tokenizer: TextTokenizer): number[] {
    const ids: number[] = [];
    const sentinel = new RegExp(`${escapeRegExp(p.open)}(\\d+)${escapeRegExp(p.close)}`, "g");
    let last = 0;
    for (const match of text.matchAll(sentinel)) {
        const at = match.index ?? 0;
        if (at > last) ids.push(...tokenizer.encode(text.slice(last, at), false));
        ids.push(...tokenizer.encodePlain(p.literals[Number(match[1])] as string));
        last = at + match[0].length;
    }
    if (last < text.length) ids.push(...tokenizer.encode(text.slice(last), false));
    return ids;
}

function escapeRegExp(text: string): string {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Token ids of user text (no template, no BOS): special-token texts in it encode as the text they
 * spell, or, with `specialTokens`, as the special tokens.
 */
export function encodeUserText(text: string, tokenizer: TextTokenizer, specialTokens: boolean): number[] {
    if (specialTokens) return tokenizer.encode(text, false);
    const p = newProtection([text]);
    return encodeProtected(protect(text, tokenizer.specialTexts, p), p, tokenizer);
}
