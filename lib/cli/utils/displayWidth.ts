/** Whether a code point takes two terminal columns (East Asian wide and fullwidth, emoji). */
function isWide(cp: number): boolean {
    return (
        (cp >= 0x1100 && cp <= 0x115f) ||
        (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) ||
        (cp >= 0xac00 && cp <= 0xd7a3) ||
        (cp >= 0xf900 && cp <= 0xfaff) ||
        (cp >= 0xfe30 && cp <= 0xfe4f) ||
        (cp >= 0xff00 && cp <= 0xff60) ||
        (cp >= 0xffe0 && cp <= 0xffe6) ||
        (cp >= 0x1f300 && cp <= 0x1faff) ||
        (cp >= 0x20000 && cp <= 0x3fffd)
    );
}

const ZERO_WIDTH = /^[\p{Mn}\p{Me}\u200b-\u200f\u2060\ufeff]$/u;

/** Terminal columns `text` takes (no control characters or escape sequences expected). */
export function displayWidth(text: string): number {
    let width = 0;
    for (const char of text) {
        const cp = char.codePointAt(0) as number;
        if (ZERO_WIDTH.test(char)) continue;
        width += isWide(cp) ? 2 : 1;
    }
    return width;
}

/**
 * Model text made safe to draw: tabs become four spaces and other control characters (escape
 * sequences included, except line breaks) become U+FFFD, so generated text can never move the
 * cursor or change the terminal's state.
 */
export function sanitizeForTerminal(text: string): string {
    return text
        .replace(/\r\n/g, "\n")
        .replace(/\t/g, "    ")
        // eslint-disable-next-line no-control-regex
        .replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g, "\ufffd");
}
