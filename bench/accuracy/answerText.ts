// The text evaluate.py scores: tok.decode(tokens, skip_special_tokens=False) of the tokens before
// the first end token. GenerateResult.text skips special tokens, so a generation holding, say,
// <|start_header_id|> would read differently ("answer is<|start_header_id|>5" has no answer in
// Python, "answer is5" would). Such rows are decoded here piecewise: the text between special
// tokens with the tokenizer, each special token as its own text (byte-level BPE decodes pieces
// independently, so this is the Python string).
import { readFile } from "node:fs/promises";
import path from "node:path";
import { TextTokenizer } from "../../lib/tokenizer/TextTokenizer";

/** tokens (before the first end token) and GenerateResult.text -> the text to score. */
export type AnswerText = (tokens: readonly number[], resultText: string) => string;

/** From a folder with tokenizer.json (the model's tokenizer: its added special tokens). */
export async function answerTextFor(tokenizerDir: string): Promise<AnswerText> {
    const tokenizer = await TextTokenizer.fromPath(tokenizerDir);
    const json = JSON.parse(await readFile(path.join(tokenizerDir, "tokenizer.json"), "utf8")) as {
        added_tokens?: { id: number; content: string; special?: boolean }[];
    };
    const special = new Map((json.added_tokens ?? []).filter((t) => t.special).map((t) => [t.id, t.content]));
    return (tokens, resultText) => {
        if (!tokens.some((t) => special.has(t))) return resultText;
        let text = "";
        let piece: number[] = [];
        for (const t of tokens) {
            const content = special.get(t);
            if (content === undefined) {
                piece.push(t);
                continue;
            }
            if (piece.length > 0) text += tokenizer.decode(piece);
            text += content;
            piece = [];
        }
        if (piece.length > 0) text += tokenizer.decode(piece);
        return text;
    };
}
