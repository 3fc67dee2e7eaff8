import type { StepEvent } from "../../types";
import { displayWidth, sanitizeForTerminal } from "./displayWidth";

/** Draws a generation's canvas as it fills in (`--watch`). */
export interface CanvasView {
    /** Shows the canvas after one step (events of other batch rows than 0 are ignored). */
    step(event: StepEvent): void;
    /** Replaces the live canvas with the final text (terminal) or prints it (pipe), with a line break. */
    done(text: string): void;
    /** Erases the live canvas without a final text (after an error or an abort). */
    clear(): void;
}

const ESC = "\u001b[";

/**
 * On a terminal, redraws the canvas in place after every step (ANSI cursor movement), with a
 * status line under it; elsewhere (a pipe, a file) prints each step's canvas on its own line,
 * line breaks shown as `\n`, so the output can be read line by line.
 */
export function createCanvasView(out: NodeJS.WriteStream, shape: { genLength: number; blockLength: number }): CanvasView {
    if (!out.isTTY) {
        return {
            step: (event) => {
                if (event.index === 0) out.write(`${event.text.replace(/\r?\n/g, "\\n")}\n`);
            },
            done: (text) => out.write(`${text}\n`),
            clear: () => undefined,
        };
    }
    return new TerminalCanvas(out, shape);
}

class TerminalCanvas implements CanvasView {
    /** Rows of the last frame above the cursor's row; -1 when nothing is drawn. */
    private rowsAbove = -1;
    private committed = 0;
    private readonly color: boolean;
    private readonly blocks: number;

    constructor(private readonly out: NodeJS.WriteStream, private readonly shape: { genLength: number; blockLength: number }) {
        this.color = out.hasColors?.() ?? false;
        this.blocks = Math.max(1, Math.ceil(shape.genLength / shape.blockLength));
    }

    step(event: StepEvent): void {
        if (event.index !== 0) return;
        this.committed += event.committed.length;
        const status = `step ${event.step + 1} · block ${event.block + 1}/${this.blocks} · ${this.committed}/${this.shape.genLength} tokens`;
        this.draw(event.text, status);
    }

    done(text: string): void {
        // The last frame is the whole text, however tall: nothing redraws it, so it may scroll.
        this.out.write(`${this.erase()}${sanitizeForTerminal(text)}\n${ESC}?25h`);
        this.rowsAbove = -1;
    }

    clear(): void {
        if (this.rowsAbove < 0) return;
        this.out.write(`${this.erase()}${ESC}?25h`);
        this.rowsAbove = -1;
    }

    /** Moves back to where the last frame began and clears everything below. */
    private erase(): string {
        if (this.rowsAbove < 0) return `${ESC}?25l`;
        return `\r${this.rowsAbove > 0 ? `${ESC}${this.rowsAbove}A` : ""}${ESC}J`;
    }

    private draw(text: string, status: string): void {
        const columns = Math.max(1, this.out.columns ?? 80);
        // Keep the frame within the screen, or moving up could not reach its first row.
        const maxRows = Math.max(1, (this.out.rows ?? 24) - 1);
        const lines = sanitizeForTerminal(text).split("\n");
        const rowsOf = (line: string) => Math.max(1, Math.ceil(displayWidth(line) / columns));
        let statusRows = rowsOf(status);
        if (statusRows >= maxRows) statusRows = 0; // a tiny terminal: the canvas matters more
        let rows = lines.reduce((sum, line) => sum + rowsOf(line), 0);
        while (rows + statusRows > maxRows && lines.length > 1) rows -= rowsOf(lines.shift() as string);
        if (rows + statusRows > maxRows) {
            // One very long line: keep its tail.
            const chars = Array.from(lines[0] as string);
            const keep = (maxRows - statusRows) * columns;
            lines[0] = chars.slice(Math.max(0, chars.length - keep)).join("");
            rows = rowsOf(lines[0]);
        }
        const body = this.color ? lines.map((line) => line.replace(/░+/g, (run) => `${ESC}2m${run}${ESC}22m`)) : lines;
        const frame = statusRows > 0 ? [...body, this.color ? `${ESC}2m${status}${ESC}22m` : status] : body;
        this.out.write(this.erase() + frame.join("\n"));
        this.rowsAbove = rows + statusRows - 1;
    }
}
