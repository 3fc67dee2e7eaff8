import type { AddonStepEvent } from "../bindings/AddonTypes";
import type { StepEvent } from "../types";
import { CanvasTracker } from "./CanvasTracker";

/**
 * Turns the native per-step events of a batch into public StepEvents, one per input row that
 * committed something, with each row's canvas text. A callback that throws is reported as a
 * warning and does not stop the generation.
 */
export function stepForwarder(
    onStep: (event: StepEvent) => void,
    rows: number,
    genLength: number,
    endIds: readonly number[],
    decode: ((ids: number[]) => string) | null,
    maskGlyph: string,
): (event: AddonStepEvent) => void {
    const ends = new Set(endIds);
    const canvases = Array.from({ length: rows }, () => new CanvasTracker(genLength, ends, decode, maskGlyph));
    return (event) => {
        event.rows.forEach((row, index) => {
            if (row.positions.length === 0) return;
            const committed = Array.from(row.positions, (position, i) => ({ position, token: row.tokens[i] as number }));
            const canvas = canvases[index] as CanvasTracker;
            canvas.commit(committed);
            try {
                onStep({ type: "step", index, step: event.step, block: event.block, committed, text: canvas.text() });
            } catch (error) {
                process.emitWarning(`localleap: an onStep callback threw: ${(error as Error)?.message ?? String(error)}`);
            }
        });
    };
}
