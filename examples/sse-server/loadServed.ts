// The model or pool the server's flags ask for: --devices a,b or --replicas N make a ModelPool
// (loadModelPool), otherwise one Model (loadModel).
import { availableParallelism } from "node:os";
import { type DeviceOption, loadModel, loadModelPool, type LoadModelOptions, type Model, type ModelPool } from "../../lib";

/** What the server serves: one model, or replicas of it behind the same API. */
export type Served = Model | ModelPool;

export interface ServedFlags {
    model?: string;
    device?: string;
    /** Comma-separated, one replica per entry: "cpu,cpu", "cuda,cuda". */
    devices?: string;
    replicas?: string;
    threads?: string;
    maxQueued: number;
    maxBatch: number;
}

/** The devices of a pool, or null for one model. Throws on a contradiction between the flags. */
export function poolDevices(flags: Pick<ServedFlags, "device" | "devices" | "replicas">): DeviceOption[] | null {
    if (flags.devices !== undefined && (flags.replicas !== undefined || flags.device !== undefined)) {
        throw new Error("--devices lists every replica's device: give it without --replicas and --device");
    }
    if (flags.devices !== undefined) return flags.devices.split(",").map((d) => d.trim() as DeviceOption);
    if (flags.replicas === undefined) return null;
    const replicas = Number(flags.replicas);
    if (!Number.isInteger(replicas) || replicas < 1) throw new Error(`--replicas ${flags.replicas}: give a whole number from 1`);
    return Array.from({ length: replicas }, () => (flags.device ?? "auto") as DeviceOption);
}

export async function loadServed(flags: ServedFlags): Promise<Served> {
    const devices = poolDevices(flags);
    const common: Omit<LoadModelOptions, "device"> = {
        ...(flags.model !== undefined && { modelPath: flags.model }),
        maxQueuedGenerations: flags.maxQueued,
        // Concurrent requests are decoded together, one forward per step (docs/scheduler.md).
        maxBatchSize: flags.maxBatch,
    };
    if (devices === null) {
        return loadModel({
            ...common,
            ...(flags.device !== undefined && { device: flags.device as DeviceOption }),
            ...(flags.threads !== undefined && { threads: Number(flags.threads) }),
        });
    }
    // Replicas on the CPU share its cores: by default each gets its share (docs/backends.md).
    const threads = flags.threads !== undefined ? Number(flags.threads) : devices.length > 1 ? Math.max(1, Math.floor(availableParallelism() / devices.length)) : 0;
    return loadModelPool({ ...common, devices, threads });
}

/** The model's name and where each replica runs. */
export function describeServed(served: Served): { name: string; devices: string[] } {
    const infos = Array.isArray(served.info) ? served.info : [served.info];
    return { name: infos[0]?.metadata.name ?? "", devices: infos.map((info) => info.device) };
}
