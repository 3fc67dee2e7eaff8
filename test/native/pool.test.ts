// loadModelPool on the CPU addon with two CPU replicas of the fixture model: results equal one
// model's, routing with real calls in flight, abort, dispose, and replicas that share no state.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { type GenerateOptions, type GenerateResult, loadModel, loadModelPool, type Model, type ModelPool, type StreamEvent } from "../../lib";
import { LLADA_FIXTURE } from "../support/fixtures";

const comparable = (result: GenerateResult) => ({ ...result, timings: null });
/** Many one-token steps: long enough to be caught mid-generation. */
// cache "none": cached calls on one replica run one after another (its gate), not side by side.
const LONG: GenerateOptions = { genLength: 256, blockLength: 32, strategy: "low-confidence", cache: "none" };
const SHORT: GenerateOptions = { genLength: 32, blockLength: 16, cache: "none" };

let single: Model;
let pool: ModelPool;
beforeAll(async () => {
    [single, pool] = await Promise.all([
        loadModel({ modelPath: LLADA_FIXTURE, device: "cpu", threads: 1 }),
        loadModelPool({ modelPath: LLADA_FIXTURE, devices: ["cpu", "cpu"], threads: 1 }),
    ]);
});
afterAll(async () => {
    await Promise.all([single?.dispose(), pool?.dispose()]);
});

test("two CPU replicas, described per replica", () => {
    expect(pool.size).toBe(2);
    expect(pool.info.map((info) => [info.device, info.gpu, info.path, info.metadata.name])).toEqual([
        ["cpu", null, LLADA_FIXTURE, single.info.metadata.name],
        ["cpu", null, LLADA_FIXTURE, single.info.metadata.name],
    ]);
});

test("generate, batch and stream give what one model gives, on either replica", async () => {
    const prompts = ["pool one", "pool two, a longer prompt", "three"];
    const sampled: GenerateOptions = { ...SHORT, temperature: 0.8, seed: 7 };
    // Concurrent: the calls spread over both replicas.
    const [a, b, batch, streamed] = await Promise.all([
        pool.generate(prompts[0]!, SHORT),
        pool.generate(prompts[1]!, sampled),
        pool.generate(prompts, SHORT),
        (async () => {
            const events: StreamEvent[] = [];
            for await (const event of pool.stream(prompts[2]!, SHORT)) events.push(event);
            return events;
        })(),
    ]);
    expect(comparable(a)).toEqual(comparable(await single.generate(prompts[0]!, SHORT)));
    expect(comparable(b)).toEqual(comparable(await single.generate(prompts[1]!, sampled)));
    expect(batch.map(comparable)).toEqual((await single.generate(prompts, SHORT)).map(comparable));
    const direct: StreamEvent[] = [];
    for await (const event of single.stream(prompts[2]!, SHORT)) direct.push(event);
    const strip = (events: StreamEvent[]) => events.map((e) => (e.type === "done" ? { ...e, result: comparable(e.result) } : e));
    expect(strip(streamed)).toEqual(strip(direct));
    expect(pool.load()).toEqual([{ rows: 0, calls: 0 }, { rows: 0, calls: 0 }]);
});

test("a call goes to the least loaded replica while others are in flight; an abort frees its replica", async () => {
    const controller = new AbortController();
    const long = pool.generate("long", { ...LONG, signal: controller.signal }); // replica 0
    const batch = pool.generate(["b1", "b2"], { ...LONG, signal: controller.signal }); // replica 1
    expect(pool.load().map((l) => l.rows)).toEqual([1, 2]);
    const short = pool.generate("short", SHORT); // replica 0 (1 row < 2 rows)
    expect(pool.load().map((l) => l.rows)).toEqual([2, 2]);
    expect(comparable(await short)).toEqual(comparable(await single.generate("short", SHORT)));
    controller.abort();
    await expect(long).rejects.toMatchObject({ code: "ABORTED" });
    await expect(batch).rejects.toMatchObject({ code: "ABORTED" });
    expect(pool.load().map((l) => l.rows)).toEqual([0, 0]);
});

describe("dispose", () => {
    test("waits for the calls already made, then later calls are MODEL_DISPOSED; another pool is untouched", async () => {
        const [mine, other] = await Promise.all([
            loadModelPool({ modelPath: LLADA_FIXTURE, devices: ["cpu", "cpu"], threads: 1 }),
            loadModelPool({ modelPath: LLADA_FIXTURE, devices: ["cpu"], threads: 1 }),
        ]);
        const running = [mine.generate("one", SHORT), mine.generate("two", SHORT)];
        const disposing = mine.dispose();
        await expect(mine.generate("late", SHORT)).rejects.toMatchObject({ code: "MODEL_DISPOSED" });
        const results = await Promise.all(running);
        expect(comparable(results[0]!)).toEqual(comparable(await single.generate("one", SHORT)));
        await disposing;
        expect(comparable(await other.generate("one", SHORT))).toEqual(comparable(results[0]!));
        await other.dispose();
    });
});

test('"cuda:1" on the CPU build is CUDA_UNAVAILABLE, an empty list INVALID_OPTIONS', async () => {
    await expect(loadModelPool({ modelPath: LLADA_FIXTURE, devices: ["cpu", "cuda:1"] })).rejects.toMatchObject({ code: "CUDA_UNAVAILABLE", message: expect.stringContaining("cuda:1") });
    await expect(loadModelPool({ modelPath: LLADA_FIXTURE, devices: [] })).rejects.toMatchObject({ code: "INVALID_OPTIONS" });
});
