// A progress bar over every (configuration, problem) of the run, on stderr. Off a TTY (the GPU
// script's log) cli-progress prints the bar every few seconds instead of redrawing it; lines
// logged through `log` go above the bar.
import { MultiBar, Presets, type SingleBar } from "cli-progress";

export interface Progress {
    /** Starts a configuration of `problems` rows. */
    start(config: string, problems: number): void;
    /** Rows of the current configuration done so far. */
    update(done: number, accuracy?: number): void;
    /** A line above the bar. */
    log(line: string): void;
    stop(): void;
}

export function createProgress(total: number, enabled = true): Progress {
    if (!enabled) {
        return { start() {}, update() {}, log: (line) => console.error(line), stop() {} };
    }
    const multi = new MultiBar(
        {
            stream: process.stderr,
            format: "{bar} {percentage}% | {value}/{total} rows | {config} {configDone}/{configTotal} | acc {accuracy} | ETA {eta_formatted}",
            hideCursor: true,
            etaBuffer: 200,
            noTTYOutput: true,
            notTTYSchedule: 15000,
        },
        Presets.shades_classic,
    );
    const bar: SingleBar = multi.create(total, 0, { config: "", configDone: 0, configTotal: 0, accuracy: "-" });
    let base = 0;
    let current = 0;
    return {
        start(config, problems) {
            base += current;
            current = 0;
            bar.update(base, { config, configDone: 0, configTotal: problems, accuracy: "-" });
        },
        update(done, accuracy) {
            current = done;
            bar.update(base + done, { configDone: done, ...(accuracy !== undefined && { accuracy: `${accuracy.toFixed(1)}%` }) });
        },
        log(line) {
            // Off a TTY cli-progress flushes logged lines only at its next scheduled print.
            if (process.stderr.isTTY) multi.log(`${line}\n`);
            else console.error(line);
        },
        stop() {
            multi.stop();
        },
    };
}
