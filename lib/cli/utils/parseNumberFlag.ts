/**
 * Commander argument parser for numeric flags: a number when the text is one, else the text
 * itself, so that option validation reports what was typed (`--gen-length abc` → got "abc").
 */
export function parseNumberFlag(text: string): number | string {
    const trimmed = text.trim();
    const value = Number(trimmed);
    return trimmed !== "" && Number.isFinite(value) ? value : text;
}
