import type { GenerationStream } from "../generation/GenerationStream";
import { isBatch } from "../generation/isBatch";
import type { Model, ModelInfo, ResultFor } from "../model";
import type { GenerateOptions, StreamOptions } from "../options";
import type { GenerateInput } from "../types";
import { leastLoaded } from "./leastLoaded";

/** What one replica of a {@link ModelPool} has in flight, as the pool counts it. */
export interface ReplicaLoad {
    /** Rows of its calls that have not settled: 1 per generate()/stream() call, a batch's prompt count. */
    rows: number;
    /** Its calls that have not settled. */
    calls: number;
}

/**
 * Replicas of one model (one per entry of {@link LoadModelPoolOptions.devices}) behind the API
 * of {@link Model}: each call goes to the replica with the fewest rows in flight (running or
 * waiting; a generate() or stream() call counts 1, a batch its prompt count), the lowest index
 * on a tie, skipping replicas whose maxQueuedGenerations calls are all taken. The pool counts
 * rows in JS, from a call until it settles. Get one from {@link loadModelPool}.
 */
export class ModelPool {
    /** Each replica's {@link ModelInfo}, by index in `devices`. */
    readonly info: readonly ModelInfo[];
    private readonly replicas: readonly Model[];
    private readonly maxQueued: number;
    private readonly rows: number[];
    private readonly calls: number[];
    private disposing: Promise<void> | undefined;

    /** @internal Use {@link loadModelPool}. */
    constructor(replicas: readonly Model[], maxQueued: number) {
        this.replicas = replicas;
        this.maxQueued = maxQueued;
        this.info = replicas.map((model) => model.info);
        this.rows = replicas.map(() => 0);
        this.calls = replicas.map(() => 0);
    }

    /** How many replicas the pool has. */
    get size(): number {
        return this.replicas.length;
    }

    /** True once {@link ModelPool.dispose} was called. */
    get disposed(): boolean {
        return this.disposing !== undefined;
    }

    /** What each replica has in flight now, by index (a copy). */
    load(): ReplicaLoad[] {
        return this.replicas.map((_, i) => ({ rows: this.rows[i] as number, calls: this.calls[i] as number }));
    }

    /**
     * {@link Model.generate} on the least loaded replica: same inputs, options, results and
     * errors. QueueFullError only when every replica's queue is full.
     */
    generate<I extends GenerateInput | readonly GenerateInput[]>(input: I, options?: GenerateOptions): Promise<ResultFor<I>>;
    generate(input: GenerateInput | readonly GenerateInput[], options: GenerateOptions = {}): Promise<unknown> {
        return this.route(isBatch(input) ? input.length : 1, (model) => {
            const work = model.generate(input, options);
            return { value: work, settled: work };
        });
    }

    /** {@link Model.stream} on the least loaded replica. */
    stream(input: GenerateInput, options: StreamOptions = {}): GenerationStream {
        return this.route(1, (model) => {
            const stream = model.stream(input, options);
            return { value: stream, settled: stream.result };
        });
    }

    /** {@link Model.tokenize}: every replica has the same tokenizer. */
    tokenize(text: string, options: { specialTokens?: boolean } = {}): number[] {
        return this.first.tokenize(text, options);
    }

    /** {@link Model.detokenize}. */
    detokenize(tokens: readonly number[] | Int32Array): string {
        return this.first.detokenize(tokens);
    }

    /** {@link Model.countTokens}. */
    countTokens(input: GenerateInput, options: { raw?: boolean; specialTokens?: boolean } = {}): number {
        return this.first.countTokens(input, options);
    }

    private get first(): Model {
        return this.replicas[0] as Model;
    }

    /** Starts a call on the chosen replica and counts its rows there until it settles. */
    private route<T>(rows: number, start: (model: Model) => { value: T; settled: Promise<unknown> }): T {
        // After dispose every replica is disposed: any of them rejects with ModelDisposedError.
        if (this.disposed) return start(this.first).value;
        const withRoom = leastLoaded(this.rows, (i) => (this.calls[i] as number) < this.maxQueued);
        // Every queue full: the least loaded replica rejects with its QueueFullError.
        const replica = withRoom >= 0 ? withRoom : leastLoaded(this.rows, () => true);
        this.rows[replica] = (this.rows[replica] as number) + rows;
        this.calls[replica] = (this.calls[replica] as number) + 1;
        const release = () => {
            this.rows[replica] = (this.rows[replica] as number) - rows;
            this.calls[replica] = (this.calls[replica] as number) - 1;
        };
        let started: { value: T; settled: Promise<unknown> };
        try {
            started = start(this.replicas[replica] as Model);
        } catch (error) {
            release();
            throw error;
        }
        started.settled.then(release, release);
        return started.value;
    }

    /**
     * Disposes every replica ({@link Model.dispose}): the pool counts as disposed at once, so
     * later calls reject with ModelDisposedError, while each replica is freed once its queued
     * calls finish. Resolves when all are freed; if one fails, the others are still freed and
     * the first failure (by index) rejects. Idempotent: later calls return the same promise.
     */
    dispose(): Promise<void> {
        this.disposing ??= Promise.allSettled(this.replicas.map((model) => model.dispose())).then((results) => {
            const failed = results.find((result): result is PromiseRejectedResult => result.status === "rejected");
            if (failed !== undefined) throw failed.reason;
        });
        return this.disposing;
    }

    /** `await using pool = await loadModelPool(...)` disposes the pool at the end of the scope. */
    [Symbol.asyncDispose](): Promise<void> {
        return this.dispose();
    }
}
