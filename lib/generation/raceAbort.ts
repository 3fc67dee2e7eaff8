import { AbortError } from "../errors";

/**
 * Settles like `work`, or rejects with AbortError as soon as `signal` aborts: the caller never
 * waits for the step in flight (or for the calls queued ahead) to end. `work` still settles
 * later (the engine stops at its next check); its outcome is then dropped.
 */
export function raceAbort<T>(work: Promise<T>, signal: AbortSignal | undefined, message: string): Promise<T> {
    if (signal === undefined) return work;
    return new Promise<T>((resolve, reject) => {
        const onAbort = () => reject(new AbortError(message));
        if (signal.aborted) onAbort();
        signal.addEventListener("abort", onAbort, { once: true });
        work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
}
