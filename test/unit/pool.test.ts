// loadModelPool and ModelPool on the fake addon: options, routing to the least loaded replica
// (calls held in flight by gates, so every pick is deterministic), abort, errors, dispose.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, jest, test } from "@jest/globals";
import type { LoadedAddon } from "../../lib/bindings/getAddon";
import type { AddonGenerateRequest, AddonLoadRequest, AddonLoadResult } from "../../lib/bindings/AddonTypes";
import { AbortError, InvalidOptionsError, ModelDisposedError, ModelNotFoundError, OutOfMemoryError, QueueFullError } from "../../lib/errors";
import { leastLoaded } from "../../lib/pool/leastLoaded";
import { loadModelPool } from "../../lib/pool/loadModelPool";
import { MAX_POOL_REPLICAS } from "../../lib/pool/poolOptions";
import type { ModelPool } from "../../lib/pool/ModelPool";
import { byteLevelTokenizerJson, tokenizerConfig } from "./helpers/byteLevelTokenizer";
import { FakeAddon, FakeAddonModel } from "./helpers/fakeAddon";
import { validMetadata } from "./helpers/metadata";

const getAddonMock = jest.fn<(options?: { device?: string }) => Promise<LoadedAddon>>();
jest.mock("../../lib/bindings/getAddon", () => ({ getAddon: (options?: { device?: string }) => getAddonMock(options) }));

/** A fake model that answers one row per prompt, and whose calls wait for `release()`. */
class GatedModel extends FakeAddonModel {
    private open: (() => void) | undefined;
    hold(): void {
        this.gate = new Promise<void>((resolve) => (this.open = resolve));
    }
    release(): void {
        this.open?.();
        this.gate = undefined;
    }
    override async generate(request: AddonGenerateRequest) {
        const result = await super.generate(request);
        return { ...result, rows: request.prompts.map(() => result.rows[0]!) };
    }
}

/**
 * A fake addon that loads GatedModels. Loads arrive in no fixed order, so a load tells which
 * replica it is through the pool's onProgress (`replicaOf`); `failReplica` fails that replica's
 * load, and loads of replicas from `holdFrom` on wait until they are aborted (slow replicas).
 */
class PoolAddon extends FakeAddon {
    replicaOf: (request: AddonLoadRequest) => number = () => -1;
    failReplica: { replica: number; error: Error } | undefined;
    holdFrom = Infinity;
    override async loadModel(request: AddonLoadRequest): Promise<AddonLoadResult> {
        const n = this.loadRequests.length;
        this.loadRequests.push(request);
        const replica = this.replicaOf(request);
        if (this.failReplica?.replica === replica) throw this.failReplica.error;
        if (replica >= this.holdFrom) {
            const token = request.abort as SignallingAbortToken | undefined;
            await new Promise<void>((resolve) => {
                if (token === undefined || token.aborted) resolve();
                else token.onAbort = resolve;
            });
            throw Object.assign(new Error("loading aborted"), { code: "ABORTED" });
        }
        request.onProgress?.({ stage: "reading", bytesRead: n, totalBytes: 10 });
        const model = new GatedModel();
        this.models.push(model);
        return {
            model,
            metadataJson: JSON.stringify(validMetadata()),
            tokenizerJson: JSON.stringify(byteLevelTokenizerJson()),
            tokenizerConfigJson: JSON.stringify(tokenizerConfig()),
            learnedFilterJson: "",
            fileBytes: 1234,
            methods: ["forward", "logits_at", "logits_at_padded"],
        };
    }
}

/** An abort token that tells a held load when it is aborted. */
class SignallingAbortToken {
    aborted = false;
    onAbort: (() => void) | undefined;
    abort(): void {
        this.aborted = true;
        this.onAbort?.();
    }
}

let dir = "";
let modelPath = "";
beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "localleap-pool-"));
    modelPath = path.join(dir, "model.pt");
    await writeFile(modelPath, "not read by the fake addon");
});
afterAll(() => rm(dir, { recursive: true, force: true }));

let addon: PoolAddon;
beforeEach(() => {
    addon = new PoolAddon();
    (addon as { AbortToken: unknown }).AbortToken = SignallingAbortToken;
    getAddonMock.mockReset();
    getAddonMock.mockResolvedValue({
        addon,
        buildInfo: addon.info,
        binaryPath: "/pkg/prebuilds/linux-x64/localleap-cpu-torch1.13.napi.node",
        variantName: "cpu-torch1.13",
        libtorch: null,
        attempts: [],
        libtorchFound: [],
        libtorchNotes: [],
    });
});

const replicas = () => addon.models as GatedModel[];
/** Which replica got each call so far, in call order. */
const calls = (): number[][] => replicas().map((model) => model.requests.map((request) => request.prompts.length));
// cache "none": cached calls wait at each model's gate, which would hide the routing under test.
const SHORT = { genLength: 8, blockLength: 8, cache: "none" } as const;
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("loadModelPool options", () => {
    test.each<[string, unknown, string]>([
        ["no devices", {}, "devices"],
        ["an empty devices list", { devices: [] }, "devices"],
        ["devices that is not an array", { devices: "cpu" }, "devices"],
        ["an unknown device", { devices: ["cpu", "gpu"] }, "devices.1"],
        ["too many replicas", { devices: Array.from({ length: MAX_POOL_REPLICAS + 1 }, () => "cpu") }, "devices"],
        ["loadModel's device option", { devices: ["cpu"], device: "cpu" }, "device"],
        ["a bad per-replica option", { devices: ["cpu"], threads: -1 }, "threads"],
    ])("%s is an InvalidOptionsError naming the field", async (_name, options, field) => {
        const error = await loadModelPool(options as never).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(InvalidOptionsError);
        expect((error as InvalidOptionsError).issues.map((issue) => issue.field)).toContain(field);
        expect(getAddonMock).not.toHaveBeenCalled();
    });

    test("the singular device option suggests devices", async () => {
        await expect(loadModelPool({ device: "cpu" } as never)).rejects.toThrow(/did you mean devices\?/);
    });

    test('"cuda:N" entries are accepted and passed to each replica; malformed indices are INVALID_OPTIONS', async () => {
        for (const bad of ["cuda:01", "cuda:-1", "cuda:1.5", "cuda:", "CUDA:1", "cuda:10000"]) {
            const error = await loadModelPool({ modelPath, devices: ["cuda", bad] as never }).catch((e: unknown) => e);
            expect({ bad, error }).toMatchObject({ bad, error: { code: "INVALID_OPTIONS", message: expect.stringMatching(/devices/) } });
        }
        expect(getAddonMock).not.toHaveBeenCalled();
        // Other bad fields are reported first, all together.
        await expect(loadModelPool({ devices: ["cuda:0"], threads: -1 } as never)).rejects.toBeInstanceOf(InvalidOptionsError);
    });
});

describe("loadModelPool", () => {
    test("loads one replica per device (repeats allowed), each with the shared options", async () => {
        const progress: [number, number][] = [];
        const pool = await loadModelPool({ modelPath, devices: ["cpu", "cpu", "auto"], threads: 1, maxBatchSize: 4, onProgress: (p, replica) => progress.push([replica, p.bytesRead]) });
        expect(pool.size).toBe(3);
        expect(addon.loadRequests.map((r) => [r.path, r.device, r.threads, r.maxBatchSize])).toEqual(Array.from({ length: 3 }, () => [modelPath, "cpu", 1, 4]));
        expect(progress.map(([replica]) => replica).sort()).toEqual([0, 1, 2]);
        expect(pool.info.map((info) => info.device)).toEqual(["cpu", "cpu", "cpu"]);
        expect(pool.load()).toEqual([{ rows: 0, calls: 0 }, { rows: 0, calls: 0 }, { rows: 0, calls: 0 }]);
        // An all-CPU pool asks for the CPU binary; one with "cuda" or "auto" for the CUDA-capable one.
        expect(getAddonMock.mock.calls[0]?.[0]).toEqual({ device: "auto" });
        await pool.dispose();
    });

    test("a replica that fails to load stops the others; the loaded ones are freed; the error names the replica", async () => {
        let reporting = -1;
        addon.replicaOf = (request) => {
            request.onProgress?.({ stage: "reading", bytesRead: 0, totalBytes: 10 });
            return reporting;
        };
        addon.failReplica = { replica: 1, error: Object.assign(new Error("CUDA out of memory"), { code: "OUT_OF_MEMORY" }) };
        addon.holdFrom = 2; // replica 2 is still loading when replica 1 fails: it is aborted
        const error = await loadModelPool({ modelPath, devices: ["cpu", "cpu", "cpu"], onProgress: (_p, replica) => (reporting = replica) }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(OutOfMemoryError);
        expect((error as Error).message).toMatch(/^replica 1 \(device "cpu"\): /);
        expect(replicas()).toHaveLength(1);
        expect(replicas()[0]?.disposeCalls).toBe(1);
    });

    test("a missing model file rejects with MODEL_NOT_FOUND", async () => {
        await expect(loadModelPool({ modelPath: path.join(dir, "absent.pt"), devices: ["cpu", "cpu"] })).rejects.toBeInstanceOf(ModelNotFoundError);
    });

    test("the caller's signal aborts every load with AbortError", async () => {
        addon.holdFrom = -1; // every load waits
        const controller = new AbortController();
        const loading = loadModelPool({ modelPath, devices: ["cpu", "cpu"], signal: controller.signal });
        await settle();
        controller.abort();
        const error = await loading.catch((e: unknown) => e);
        expect(error).toBeInstanceOf(AbortError);
        expect((error as Error).message).not.toMatch(/^replica/);
    });
});

describe("routing", () => {
    let pool: ModelPool;
    beforeEach(async () => {
        pool = await loadModelPool({ modelPath, devices: ["cpu", "cpu", "cpu"], maxQueuedGenerations: 2 });
        for (const model of replicas()) model.hold();
    });

    test("each call goes to the replica with the fewest rows in flight, the lowest index on a tie", async () => {
        const a = pool.generate("a", SHORT); // 0 0 0 -> replica 0
        const bc = pool.generate(["b", "c"], SHORT); // 1 0 0 -> replica 1 (a batch: 2 rows)
        const d = pool.generate("d", SHORT); // 1 2 0 -> replica 2
        const e = pool.generate("e", SHORT); // 1 2 1 -> replica 0
        expect(calls()).toEqual([[1, 1], [2], [1]]);
        expect(pool.load()).toEqual([{ rows: 2, calls: 2 }, { rows: 2, calls: 1 }, { rows: 1, calls: 1 }]);
        const f = pool.stream("f", SHORT); // 2 2 1 -> replica 2
        expect(calls()).toEqual([[1, 1], [2], [1, 1]]);

        replicas()[1]?.release(); // the batch finishes: replica 1 is the least loaded
        expect(await bc).toHaveLength(2);
        expect(pool.load().map((l) => l.rows)).toEqual([2, 0, 2]);
        const g = pool.generate("g", SHORT);
        expect(calls()[1]).toEqual([2, 1]);

        for (const model of replicas()) model.release();
        const results = await Promise.all([a, d, e, g, f.result]);
        expect(results.every((r) => typeof r.text === "string")).toBe(true);
        expect(pool.load().map((l) => l.rows)).toEqual([0, 0, 0]);
    });

    test("a replica whose queue is full is skipped; when every queue is full the call is QUEUE_FULL", async () => {
        // maxQueuedGenerations 2 per replica: a 5-row batch fills replica 0's rows but only one call slot.
        const big = pool.generate(["1", "2", "3", "4", "5"], SHORT);
        const rest = Array.from({ length: 5 }, (_, i) => pool.generate(`call ${i}`, SHORT));
        expect(pool.load().map((l) => l.calls)).toEqual([2, 2, 2]);
        expect(calls()).toEqual([[5, 1], [1, 1], [1, 1]]);
        await expect(pool.generate("one too many", SHORT)).rejects.toBeInstanceOf(QueueFullError);
        for (const model of replicas()) model.release();
        await Promise.all([big, ...rest]);
    });

    test("an aborted call rejects with AbortError and frees its rows at once", async () => {
        const controller = new AbortController();
        const held = pool.generate("held", { ...SHORT, signal: controller.signal });
        const streamed = pool.stream("streamed", { ...SHORT, signal: controller.signal });
        expect(pool.load().map((l) => l.rows)).toEqual([1, 1, 0]);
        controller.abort();
        await expect(held).rejects.toBeInstanceOf(AbortError);
        await expect(streamed.result).rejects.toBeInstanceOf(AbortError);
        await settle();
        expect(pool.load().map((l) => l.rows)).toEqual([0, 0, 0]);
        for (const model of replicas()) model.release();
    });

    test("a replica's error reaches the caller typed, and its rows are freed", async () => {
        replicas()[0]!.generateError = Object.assign(new Error("CUDA out of memory"), { code: "OUT_OF_MEMORY" });
        replicas()[0]!.release();
        await expect(pool.generate("x", SHORT)).rejects.toBeInstanceOf(OutOfMemoryError);
        expect(pool.load().map((l) => l.rows)).toEqual([0, 0, 0]);
        // Bad input is rejected by the replica before any work, as with one model.
        await expect(pool.generate("x", { genLength: 30, blockLength: 7 })).rejects.toBeInstanceOf(InvalidOptionsError);
        expect(pool.load().map((l) => l.rows)).toEqual([0, 0, 0]);
    });

    test("leaving a stream early aborts it and frees its rows", async () => {
        const stream = pool.stream("s", SHORT);
        expect(pool.load()[0]?.rows).toBe(1);
        await stream[Symbol.asyncIterator]().return?.();
        await expect(stream.result).rejects.toBeInstanceOf(AbortError);
        await settle();
        expect(pool.load()[0]?.rows).toBe(0);
        for (const model of replicas()) model.release();
    });
});

describe("ModelPool.dispose", () => {
    test("frees every replica once its calls finish; idempotent; later calls are MODEL_DISPOSED", async () => {
        const pool = await loadModelPool({ modelPath, devices: ["cpu", "cpu"] });
        const first = pool.dispose();
        expect(pool.disposed).toBe(true);
        expect(pool.dispose()).toBe(first);
        await first;
        expect(replicas().map((model) => model.disposeCalls)).toEqual([1, 1]);
        await expect(pool.generate("x", SHORT)).rejects.toBeInstanceOf(ModelDisposedError);
        await expect(pool.stream("x", SHORT).result).rejects.toBeInstanceOf(ModelDisposedError);
        expect(() => pool.countTokens("x")).toThrow(ModelDisposedError);
        expect(pool.load()).toEqual([{ rows: 0, calls: 0 }, { rows: 0, calls: 0 }]);
    });

    test("one replica failing to dispose still frees the others, and rejects", async () => {
        const pool = await loadModelPool({ modelPath, devices: ["cpu", "cpu"] });
        replicas()[0]!.dispose = async () => {
            throw Object.assign(new Error("native says no"), { code: "INTERNAL" });
        };
        await expect(pool.dispose()).rejects.toMatchObject({ code: "INTERNAL" });
        expect(replicas()[1]?.disposeCalls).toBe(1);
    });

    test("await using disposes the pool", async () => {
        {
            await using pool = await loadModelPool({ modelPath, devices: ["cpu"] });
            expect(pool.tokenize("hi").length).toBeGreaterThan(0);
        }
        expect(replicas()[0]?.disposeCalls).toBe(1);
    });
});

test("two pools share no state: each counts its own rows", async () => {
    const one = await loadModelPool({ modelPath, devices: ["cpu", "cpu"] });
    const two = await loadModelPool({ modelPath, devices: ["cpu", "cpu"] });
    for (const model of replicas()) model.hold();
    const held = [one.generate("a", SHORT), one.generate("b", SHORT), two.generate("c", SHORT)];
    expect(one.load().map((l) => l.rows)).toEqual([1, 1]);
    expect(two.load().map((l) => l.rows)).toEqual([1, 0]);
    await two.dispose();
    expect(one.disposed).toBe(false);
    for (const model of replicas()) model.release();
    await Promise.all(held);
    expect((await one.generate("d", SHORT)).text).toEqual(expect.any(String));
    await one.dispose();
});

test("leastLoaded: fewest rows, lowest index on a tie, -1 when none has room", () => {
    expect(leastLoaded([0, 0], () => true)).toBe(0);
    expect(leastLoaded([3, 1, 1], () => true)).toBe(1);
    expect(leastLoaded([3, 1, 0], (i) => i !== 2)).toBe(1);
    expect(leastLoaded([1, 1], () => false)).toBe(-1);
    expect(leastLoaded([], () => true)).toBe(-1);
});
