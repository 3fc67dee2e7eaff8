import { getAddon } from "../bindings/getAddon";
import { AbortError, LocalleapError } from "../errors";
import { loadModel } from "../loadModel";
import type { Model } from "../model";
import { ModelPool } from "./ModelPool";
import { type LoadModelPoolOptions, parsePoolOptions } from "./poolOptions";

/**
 * Loads one replica of a model per entry of `devices` (in parallel, each with
 * {@link loadModel} and the other options) and returns them as a {@link ModelPool}, which
 * routes each call to the least loaded replica. If a replica fails to load, the others are
 * stopped and disposed, and the pool rejects with that replica's error (its message says which
 * replica). Rejects with InvalidOptionsError, CudaUnavailableError (a "cuda:N" the process does not see) or any error of
 * loadModel.
 */
export async function loadModelPool(options: LoadModelPoolOptions): Promise<ModelPool> {
    const o = parsePoolOptions(options);
    // A process keeps the first native binary it loads: ask for the CUDA-capable one first when
    // any replica may use CUDA, so that a CPU replica loading first cannot pick the CPU binary.
    await getAddon({ device: o.devices.every((device) => device === "cpu") ? "cpu" : "auto" });

    // One failed replica stops the others' loading: no point reading the rest.
    const stop = new AbortController();
    const signal = o.replica.signal === undefined ? stop.signal : AbortSignal.any([o.replica.signal, stop.signal]);
    let firstFailure: { replica: number; error: unknown } | undefined;
    const settled = await Promise.allSettled(
        o.devices.map((device, replica) =>
            loadModel({
                ...o.replica,
                device,
                signal,
                ...(o.onProgress !== undefined && { onProgress: (progress) => o.onProgress?.(progress, replica) }),
            }).catch((error: unknown) => {
                firstFailure ??= { replica, error };
                stop.abort();
                throw error;
            }),
        ),
    );
    const models = settled.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
    if (firstFailure === undefined) return new ModelPool(models, o.maxQueuedGenerations);

    await Promise.all(models.map((model: Model) => model.dispose().catch(() => undefined)));
    const { replica, error } = firstFailure;
    if (o.replica.signal?.aborted && error instanceof AbortError) throw error;
    if (error instanceof LocalleapError) error.message = `replica ${replica} (device "${o.devices[replica]}"): ${error.message}`;
    throw error;
}
