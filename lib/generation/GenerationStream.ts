import type { GenerateResult, StepEvent, StreamEvent, TextEvent } from "../types";

/**
 * What {@link Model.stream} returns: an async iterable of step and text events that ends with
 * a done event carrying the result, and `result`, the same result as a promise. Leaving a for-await
 * loop early aborts the generation.
 */
export class GenerationStream implements AsyncIterable<StreamEvent> {
    /** Settles with the generation: the same value as the done event's result. */
    readonly result: Promise<GenerateResult>;
    private readonly queue: StreamEvent[] = [];
    private waiting: ((value: IteratorResult<StreamEvent>) => void) | null = null;
    private failed: ((error: unknown) => void) | null = null;
    private error: unknown = undefined;
    private finished = false;

    /** @internal `start` receives the event sink and returns the generation's promise. */
    constructor(start: (sink: (event: StepEvent | TextEvent) => void) => Promise<GenerateResult>, private readonly abort: () => void) {
        this.result = start((event) => this.push(event));
        this.result.then(
            (result) => {
                this.push({ type: "done", result });
                this.finished = true;
                this.wake();
            },
            (error: unknown) => {
                this.error = error ?? new Error("generation failed");
                this.finished = true;
                this.wake();
            },
        );
        // The result promise is also exposed; an unobserved rejection here must not crash.
        this.result.catch(() => undefined);
    }

    private push(event: StreamEvent): void {
        if (this.waiting !== null) {
            const resolve = this.waiting;
            this.waiting = null;
            this.failed = null;
            resolve({ value: event, done: false });
        } else {
            this.queue.push(event);
        }
    }

    private wake(): void {
        if (this.waiting === null || this.queue.length > 0) return;
        const resolve = this.waiting;
        const reject = this.failed;
        this.waiting = null;
        this.failed = null;
        if (this.error !== undefined && reject !== null) reject(this.error);
        else resolve({ value: undefined, done: true });
    }

    [Symbol.asyncIterator](): AsyncIterator<StreamEvent> {
        return {
            next: () => {
                const event = this.queue.shift();
                if (event !== undefined) return Promise.resolve({ value: event, done: false });
                if (this.finished) {
                    return this.error !== undefined ? Promise.reject(this.error) : Promise.resolve({ value: undefined, done: true });
                }
                return new Promise((resolve, reject) => {
                    this.waiting = resolve;
                    this.failed = reject;
                });
            },
            return: () => {
                if (!this.finished) this.abort();
                this.queue.length = 0;
                return Promise.resolve({ value: undefined, done: true });
            },
        };
    }
}
