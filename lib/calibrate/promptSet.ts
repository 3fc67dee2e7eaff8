import { readFile } from "node:fs/promises";
import { PromptSetError } from "../errors";
import type { ChatMessage } from "../types";
import { formatValue } from "../utils/formatValue";

/** One prompt of a calibration set. */
export interface CalibrationPrompt {
    /** A string (the user's message through the chat template, like generate()) or chat messages. */
    prompt: string | ChatMessage[];
    /** The reference answer, for metric "accuracy". */
    answer?: string;
    /** An id to name the prompt by (the JSONL's "id"), when it has one. */
    id?: string;
    /** 1-based line of the JSONL file it came from. */
    line?: number;
}

const ROLES = new Set(["system", "user", "assistant"]);

/**
 * Parses a JSONL prompt set: one JSON object per line, `{"prompt": "..." | [{"role", "content"}],
 * "answer"?: number | string, "id"?: string}`; "question" is read as "prompt", so the problem
 * files of tools/train/make_data.py (train.jsonl) and bench/data can be used as they are. Blank
 * lines are skipped. Throws {@link PromptSetError} naming the line of the first bad one.
 */
export function parsePromptSet(text: string, file?: string): CalibrationPrompt[] {
    const where = (line: number) => `${file ?? "prompt set"}:${line}`;
    const fail = (line: number, what: string): never => {
        throw new PromptSetError(`${where(line)}: ${what}`, { ...(file !== undefined && { file }), line });
    };
    const prompts: CalibrationPrompt[] = [];
    const lines = text.split("\n");
    for (const [index, rawLine] of lines.entries()) {
        const line = index + 1;
        if (rawLine.trim() === "") continue;
        let row: unknown;
        try {
            row = JSON.parse(rawLine);
        } catch (error) {
            fail(line, `not valid JSON (${(error as Error).message})`);
        }
        if (typeof row !== "object" || row === null || Array.isArray(row)) fail(line, `expected a JSON object, got ${formatValue(row)}`);
        const r = row as Record<string, unknown>;
        if ("prompt" in r && "question" in r) fail(line, 'has both "prompt" and "question"; give one');
        const prompt = "prompt" in r ? r.prompt : r.question;
        let parsed: string | ChatMessage[];
        if (typeof prompt === "string") {
            if (prompt.trim() === "") fail(line, '"prompt" is empty');
            parsed = prompt;
        } else if (Array.isArray(prompt) && prompt.length > 0) {
            parsed = prompt.map((m: unknown, i) => {
                const msg = m as { role?: unknown; content?: unknown } | null;
                if (typeof msg !== "object" || msg === null || typeof msg.role !== "string" || !ROLES.has(msg.role) || typeof msg.content !== "string") {
                    return fail(line, `"prompt"[${i}] is ${formatValue(m)}; expected {"role": "system" | "user" | "assistant", "content": string}`);
                }
                return { role: msg.role as ChatMessage["role"], content: msg.content };
            });
        } else {
            fail(line, `${"prompt" in r ? '"prompt"' : '"question"'} is ${"prompt" in r || "question" in r ? formatValue(prompt) : "missing"}; expected a non-empty string or an array of chat messages`);
        }
        const entry: CalibrationPrompt = { prompt: parsed!, line };
        if (r.answer !== undefined && r.answer !== null) {
            if (typeof r.answer === "number" && Number.isFinite(r.answer)) entry.answer = String(r.answer);
            else if (typeof r.answer === "string" && r.answer.trim() !== "") entry.answer = r.answer;
            else fail(line, `"answer" is ${formatValue(r.answer)}; expected a number or a non-empty string`);
        }
        if (r.id !== undefined) {
            if (typeof r.id !== "string" && typeof r.id !== "number") fail(line, `"id" is ${formatValue(r.id)}; expected a string`);
            entry.id = String(r.id);
        }
        prompts.push(entry);
    }
    if (prompts.length === 0) throw new PromptSetError(`${file ?? "the prompt set"} has no prompts`, { ...(file !== undefined && { file }) });
    return prompts;
}

/** Reads and parses a JSONL prompt set file (see {@link parsePromptSet}). */
export async function readPromptSet(file: string): Promise<CalibrationPrompt[]> {
    let text: string;
    try {
        text = await readFile(file, "utf8");
    } catch (error) {
        throw new PromptSetError(`cannot read the prompt set ${file}: ${(error as Error).message}`, { file, hint: "check the path given to --prompts" });
    }
    return parsePromptSet(text, file);
}
