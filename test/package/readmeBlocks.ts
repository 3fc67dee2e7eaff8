/** One fenced code block of a Markdown file, with the HTML comment right above it (if any). */
export interface CodeBlock {
    /** The info string: "js", "ts", "sh", "" ... */
    lang: string;
    code: string;
    /** 1-based line of the opening fence. */
    line: number;
    /** The comment on the line before the fence ("" when there is none), e.g. "test: sh". */
    marker: string;
    /** For js/ts blocks whose first line is `// <file>`: that file name. */
    fileName: string | null;
}

/** The fenced code blocks of `markdown`, in order. */
export function readmeBlocks(markdown: string): CodeBlock[] {
    const lines = markdown.split("\n");
    const blocks: CodeBlock[] = [];
    for (let i = 0; i < lines.length; i++) {
        const open = /^```(\S*)\s*$/.exec(lines[i] as string);
        if (open === null) continue;
        const start = i;
        const body: string[] = [];
        for (i++; i < lines.length && !/^```\s*$/.test(lines[i] as string); i++) body.push(lines[i] as string);
        const previous = start > 0 ? (lines[start - 1] as string) : "";
        const marker = /^<!--\s*(.*?)\s*-->$/.exec(previous.trim())?.[1] ?? "";
        const fileName = /^\/\/ ([\w.-]+\.(?:cjs|mjs|js|ts))\s*$/.exec(body[0] ?? "")?.[1] ?? null;
        blocks.push({ lang: open[1] as string, code: `${body.join("\n")}\n`, line: start + 1, marker, fileName });
    }
    return blocks;
}
