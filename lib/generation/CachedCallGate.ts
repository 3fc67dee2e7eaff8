import { AbortError } from "../errors";

/**
 * Admits a model's KV-cached calls to the engine one at a time, in arrival order.
 *
 * Why: the scheduler runs a cached call (cache "prefix"/"dual") as a lockstep group of its own
 * (docs/scheduler.md "Groups"), so concurrent cached calls never share a forward. Interleaved
 * step by step, each of N such calls took N times its solo latency, and on CUDA the groups'
 * alternating shapes and KV tensors defeated graph reuse: 16 concurrent dual calls gave 0.45x the
 * tokens/s of one (H200, reference model). One after another they keep a solo call's speed and
 * half the mean latency. Calls with cache "none" do not pass here: they share forwards.
 * This goes once cached rows of different calls can share a forward.
 */
export class CachedCallGate {
    private tail: Promise<void> = Promise.resolve();
    private waiting = 0;

    /** Calls admitted or waiting. */
    get size(): number {
        return this.waiting;
    }

    /**
     * Runs `submit` once every call admitted before it has settled in the engine, and settles as
     * the promise `submit` returned does; the next call is admitted when that one settles. An
     * abort while waiting rejects with AbortError and submits nothing.
     */
    admit<T>(submit: () => Promise<T>, signal: AbortSignal | undefined, message: string): Promise<T> {
        const before = this.tail;
        let done!: () => void;
        const mine = new Promise<void>((resolve) => (done = resolve));
        this.tail = before.then(() => mine);
        this.waiting++;
        const leave = () => {
            this.waiting--;
            done();
        };
        return new Promise<T>((resolve, reject) => {
            let left = false;
            const onAbort = () => {
                if (left) return;
                left = true;
                leave(); // the calls behind it need not wait for its turn
                reject(new AbortError(message));
            };
            if (signal?.aborted) return onAbort();
            signal?.addEventListener("abort", onAbort, { once: true });
            void before.then(() => {
                signal?.removeEventListener("abort", onAbort);
                if (left) return;
                left = true;
                let work: Promise<T>;
                try {
                    work = submit();
                } catch (error) {
                    leave();
                    reject(error);
                    return;
                }
                void work.then(leave, leave);
                work.then(resolve, reject);
            });
        });
    }

    /** Settles once every call admitted so far has settled in the engine. */
    drained(): Promise<void> {
        return this.tail;
    }
}
