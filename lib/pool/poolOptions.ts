import { z } from "zod";
import { LOAD_ALLOWED, type LoadModelOptions, loadModelSchema, parseWith } from "../options";
import type { DeviceOption, LoadProgress } from "../types";

/** Most replicas one pool may hold: each is a model with its own native thread and memory. */
export const MAX_POOL_REPLICAS = 64;

/** Options of {@link loadModelPool}: those of {@link loadModel} for every replica, and where each replica runs. */
export interface LoadModelPoolOptions extends Omit<LoadModelOptions, "device" | "onProgress"> {
    /**
     * One entry per replica, each what {@link LoadModelOptions.device} accepts ("cpu", "cuda",
     * "cuda:N", "auto"); entries may repeat (["cpu", "cpu"]: two CPU replicas). One replica per
     * GPU: ["cuda:0", "cuda:1"]. 1 to MAX_POOL_REPLICAS entries. threads, maxQueuedGenerations and
     * maxBatchSize apply to each replica.
     */
    devices: readonly DeviceOption[];
    /** Called while each replica's archive is read; `replica` is its index in `devices`. */
    onProgress?: (progress: LoadProgress, replica: number) => void;
}

/** @internal LoadModelPoolOptions, validated: loadModel's options per replica (less device). */
export interface ResolvedPoolOptions {
    devices: DeviceOption[];
    replica: Omit<LoadModelOptions, "device" | "onProgress">;
    onProgress?: (progress: LoadProgress, replica: number) => void;
    maxQueuedGenerations: number;
}

const isFunction = (value: unknown): value is (...args: never[]) => unknown => typeof value === "function";

const poolSchema = loadModelSchema.omit({ device: true, onProgress: true }).extend({
    devices: z.array(loadModelSchema.shape.device.unwrap()).min(1).max(MAX_POOL_REPLICAS),
    onProgress: z.custom<(progress: LoadProgress, replica: number) => void>(isFunction).optional(),
});

const { device: _device, ...loadAllowed } = LOAD_ALLOWED;
const POOL_ALLOWED: Record<keyof LoadModelPoolOptions, string> = {
    ...loadAllowed,
    devices: `an array of 1 to ${MAX_POOL_REPLICAS} devices, each "cpu", "cuda", "cuda:N" or "auto" (one replica each)`,
};

/**
 * @internal Validates loadModelPool options: InvalidOptionsError listing every bad field.
 */
export function parsePoolOptions(options: unknown): ResolvedPoolOptions {
    const { devices, onProgress, ...replica } = parseWith(poolSchema, options, "loadModelPool options", POOL_ALLOWED);
    const { modelPath, tokenizerPath, signal, ...rest } = replica;
    return {
        devices: devices as DeviceOption[],
        replica: {
            ...rest,
            ...(modelPath !== undefined && { modelPath }),
            ...(tokenizerPath !== undefined && { tokenizerPath }),
            ...(signal !== undefined && { signal }),
        },
        ...(onProgress !== undefined && { onProgress }),
        maxQueuedGenerations: rest.maxQueuedGenerations,
    };
}
