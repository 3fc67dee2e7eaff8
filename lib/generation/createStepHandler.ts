import type { AddonStepEvent } from "../bindings/AddonTypes";
import type { StepEvent, TextChunk } from "../types";
import { CanvasTracker } from "./CanvasTracker";
import { cutGeneration, settledText, type TextLimits } from "./cutGeneration";

/** What one generation's step events feed. */
export interface StepHandlerOptions {
    rows: number;
    genLength: number;
    limits: TextLimits;
    maskGlyph: string;
    onStep?: (event: StepEvent) => void;
    onTextChunk?: (chunk: TextChunk) => void;
    /** Called once, when the text of every row has ended (an end token, a stop string, maxTokens). */
    onAllEnded?: () => void;
}

/** The step sink the native generate() calls, and the flush for what is left at the end. */
export interface StepHandler {
    onStep: (event: AddonStepEvent) => void;
    /** Emits each row's remaining text (the chunks then join to `texts[row]`, the result's text). */
    flush: (texts: readonly string[]) => void;
    /** Leading committed positions of row `index` so far. */
    finalLength: (index: number) => number;
}

/**
 * Turns the native per-step events of a batch into public StepEvents (one per input row that
 * committed something, with its canvas text), TextChunks of final text, and the signal that
 * every row's text has ended. A callback that throws is reported as a warning and does not stop
 * the generation.
 */
export function createStepHandler(options: StepHandlerOptions): StepHandler {
    const { limits, onStep, onTextChunk, onAllEnded } = options;
    const canvases = Array.from({ length: options.rows }, () => new CanvasTracker(options.genLength, limits.endIds, limits.decode, options.maskGlyph));
    const emitted = new Array<string>(options.rows).fill("");
    const ended = new Array<boolean>(options.rows).fill(false);
    /** Final prefix length each row was last cut at: a step that does not extend it changes nothing. */
    const cutAt = new Array<number>(options.rows).fill(-1);
    let allEnded = false;

    const emit = (index: number, text: string, finalTokens: number) => {
        const before = emitted[index] as string;
        if (onTextChunk === undefined || text.length <= before.length || !text.startsWith(before)) return;
        emitted[index] = text;
        guarded("onTextChunk", () => onTextChunk({ index, text: text.slice(before.length), finalTokens }));
    };

    return {
        onStep(event) {
            event.rows.forEach((row, index) => {
                if (row.positions.length === 0) return;
                const committed = Array.from(row.positions, (position, i) => ({ position, token: row.tokens[i] as number }));
                const canvas = canvases[index] as CanvasTracker;
                canvas.commit(committed);
                if (onStep !== undefined) {
                    guarded("onStep", () => onStep({ type: "step", index, step: event.step, block: row.block ?? event.block, committed, text: canvas.text() }));
                }
                if (onTextChunk === undefined && onAllEnded === undefined) return;
                const prefix = canvas.finalPrefix();
                if (prefix.length === cutAt[index]) return;
                cutAt[index] = prefix.length;
                const cut = cutGeneration(prefix, canvas.complete, limits);
                if (cut.reason !== null) ended[index] = true;
                emit(index, cut.reason !== null ? cut.text : settledText(cut.text, limits.stop), prefix.length);
            });
            if (!allEnded && onAllEnded !== undefined && ended.every(Boolean)) {
                allEnded = true;
                onAllEnded();
            }
        },
        finalLength(index) {
            return canvases[index]?.finalPrefix().length ?? 0;
        },
        flush(texts) {
            texts.forEach((text, index) => emit(index, text, canvases[index]?.finalPrefix().length ?? 0));
        },
    };
}

function guarded(name: string, callback: () => void): void {
    try {
        callback();
    } catch (error) {
        process.emitWarning(`localleap: an ${name} callback threw: ${(error as Error)?.message ?? String(error)}`);
    }
}
