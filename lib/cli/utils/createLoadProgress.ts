import { SingleBar, Presets } from "cli-progress";
import type { LoadProgress } from "../../types";

/**
 * A progress bar on stderr for reading the model (only when stderr is a terminal, so that
 * piped output stays clean). `onProgress` feeds it; `stop` clears it.
 */
export function createLoadProgress(stream: NodeJS.WriteStream = process.stderr): { onProgress?: (p: LoadProgress) => void; stop: () => void } {
    if (!stream.isTTY) return { stop: () => undefined };
    let bar: SingleBar | undefined;
    // MiB for real models, KiB for small test fixtures, so the numbers never read 0/0.
    let unit = { name: "MiB", bytes: 2 ** 20 };
    const scale = (bytes: number) => Math.round(bytes / unit.bytes);
    return {
        onProgress: (p) => {
            if (bar === undefined) {
                if (p.totalBytes < 16 * 2 ** 20) unit = { name: "KiB", bytes: 2 ** 10 };
                const format = `loading {stage} [{bar}] {percentage}% {value}/{total} ${unit.name}`;
                bar = new SingleBar({ stream, format, clearOnComplete: true, hideCursor: true }, Presets.shades_classic);
                bar.start(scale(p.totalBytes), 0, { stage: p.stage });
            }
            bar.setTotal(scale(p.totalBytes));
            bar.update(scale(p.bytesRead), { stage: p.stage });
        },
        stop: () => bar?.stop(),
    };
}
