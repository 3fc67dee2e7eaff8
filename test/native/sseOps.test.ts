// The SSE example's operations side over real HTTP: liveness and readiness, Prometheus metrics,
// the replica header, the drain on shutdown, a ModelPool behind it, and --replicas in the CLI.
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { poolDevices } from "../../examples/sse-server/loadServed";
import { createSseServer, type RequestSummary, type SseServer, type SseServerOptions } from "../../examples/sse-server/server";
import { type GenerateOptions, loadModel, loadModelPool, type Model, type ModelPool } from "../../lib";
import { LLADA_FIXTURE } from "../support/fixtures";
import { type HttpAnswer, http } from "../support/sseClient";
import { startSseProcess } from "../support/sseProcess";

/** Many one-token steps: long enough to be caught mid-generation. */
const LONG: GenerateOptions = { genLength: 256, blockLength: 32, strategy: "low-confidence" };
const SHORT: GenerateOptions = { genLength: 32, blockLength: 16 };

async function listen(options: SseServerOptions): Promise<{ server: SseServer; port: number; ended: RequestSummary[] }> {
    const ended: RequestSummary[] = [];
    const server = createSseServer({ ...options, onRequestEnd: (summary) => ended.push(summary) });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return { server, port: (server.address() as AddressInfo).port, ended };
}
const close = (server: SseServer) => new Promise<void>((resolve) => server.close(() => resolve()));

/** One value of a Prometheus text exposition, e.g. metric(text, 'localleap_requests_total{outcome="done",code=""}'). */
function metric(text: string, series: string): number | undefined {
    const line = text.split("\n").find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** A /generate stream that resolves `started` at its first step event. */
function startStream(port: number, body: unknown): { started: Promise<void>; answer: Promise<HttpAnswer> } {
    let onStart: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (onStart = resolve));
    const answer = http(port, "POST", "/generate", body, (event) => (event.event === "step" ? onStart() : undefined));
    void answer.finally(onStart);
    return { started, answer };
}

let model: Model;
beforeAll(async () => {
    // One row at a time: a second request waits, so the queue gauge has something to count.
    model = await loadModel({ modelPath: LLADA_FIXTURE, device: "cpu", maxBatchSize: 1 });
});
afterAll(() => model?.dispose());

describe("liveness and readiness", () => {
    test("/healthz answers while loading; /readyz and /generate are 503 until the model is loaded", async () => {
        let resolve: (value: Model) => void = () => undefined;
        const { server, port } = await listen({ model: new Promise<Model>((r) => (resolve = r)) });
        try {
            expect(await http(port, "GET", "/healthz")).toMatchObject({ status: 200, json: { status: "alive" } });
            expect(await http(port, "GET", "/readyz")).toMatchObject({ status: 503, json: { status: "loading" } });
            const early = await http(port, "POST", "/generate", { prompt: "x" });
            expect(early).toMatchObject({ status: 503, json: { error: { code: "LOADING" } } });
            expect(early.headers["retry-after"]).toBe("1");
            expect(server.state).toBe("loading");
            resolve(model);
            await new Promise((r) => setImmediate(r));
            expect(await http(port, "GET", "/readyz")).toMatchObject({ status: 200, json: { status: "ready" } });
            expect((await http(port, "POST", "/generate", { prompt: "x", options: SHORT })).events.at(-1)?.event).toBe("done");
        } finally {
            await close(server);
        }
    });

    test("a model that fails to load: /readyz 503 failed, /generate 503 LOAD_FAILED, /healthz still 200", async () => {
        const failing = Promise.reject(new Error("no such model"));
        const { server, port } = await listen({ model: failing });
        try {
            await failing.catch(() => undefined);
            expect(await http(port, "GET", "/readyz")).toMatchObject({ status: 503, json: { status: "failed" } });
            expect(await http(port, "POST", "/generate", { prompt: "x" })).toMatchObject({ status: 503, json: { error: { code: "LOAD_FAILED" } } });
            expect((await http(port, "GET", "/healthz")).status).toBe(200);
        } finally {
            await close(server);
        }
    });

    test("every answer names the replica in x-replica", async () => {
        const { server, port } = await listen({ model, replicaId: "replica-a" });
        try {
            for (const [method, path] of [["GET", "/healthz"], ["GET", "/readyz"], ["GET", "/metrics"], ["GET", "/nowhere"]] as const) {
                expect((await http(port, method, path)).headers["x-replica"]).toBe("replica-a");
            }
            expect((await http(port, "POST", "/generate", { prompt: "x", options: SHORT })).headers["x-replica"]).toBe("replica-a");
        } finally {
            await close(server);
        }
    });
});

describe("/metrics", () => {
    test("requests by outcome, generated tokens, latency, queue depth and active rows; a registry per server", async () => {
        const { server, port } = await listen({ model });
        const other = await listen({ model });
        try {
            const done = await http(port, "POST", "/generate", { prompt: "count me", options: SHORT });
            const tokens = (done.events.at(-1)?.data as { result: { tokens: number[] } }).result.tokens.length;
            expect(tokens).toBeGreaterThan(0);
            expect((await http(port, "POST", "/generate", { prompt: "x", options: { genLength: 30, blockLength: 7 } })).status).toBe(400);

            // Two long streams with room for one row: one decodes, the other waits for the model.
            const first = startStream(port, { prompt: "first", options: LONG });
            await first.started;
            const second = startStream(port, { prompt: "second", options: LONG });
            // Admitted once its body is read: poll rather than guess how long that takes on a busy machine.
            let during = await http(port, "GET", "/metrics");
            for (let tries = 0; metric(during.text, "localleap_queue_depth") !== 1 && tries < 200; tries++) {
                await new Promise((r) => setTimeout(r, 25));
                during = await http(port, "GET", "/metrics");
            }
            expect(during.status).toBe(200);
            expect(during.headers["content-type"]).toMatch(/^text\/plain/);
            expect(metric(during.text, "localleap_active_rows")).toBe(1);
            expect(metric(during.text, "localleap_queue_depth")).toBe(1);
            expect(metric(during.text, "localleap_ready")).toBe(1);

            const text = (await http(port, "GET", "/metrics")).text;
            expect(metric(text, 'localleap_requests_total{outcome="done",code=""}')).toBe(1);
            expect(metric(text, 'localleap_requests_total{outcome="rejected",code="INVALID_OPTIONS"}')).toBe(1);
            expect(metric(text, "localleap_generated_tokens_total")).toBe(tokens);
            expect(metric(text, 'localleap_request_duration_seconds_count{outcome="done"}')).toBe(1);
            expect(metric(text, 'localleap_request_duration_seconds_bucket{le="+Inf",outcome="done"}')).toBe(1);
            // The other server counted nothing.
            const untouched = (await http(other.port, "GET", "/metrics")).text;
            expect(metric(untouched, "localleap_generated_tokens_total")).toBe(0);
            expect(untouched).not.toContain('outcome="done"');

            // The waiting one runs once the first is done.
            for (const answer of await Promise.all([first.answer, second.answer])) expect(answer.events.at(-1)?.event).toBe("done");
            const after = (await http(port, "GET", "/metrics")).text;
            expect(metric(after, "localleap_active_rows")).toBe(0);
            expect(metric(after, "localleap_queue_depth")).toBe(0);
        } finally {
            await close(server);
            await close(other.server);
        }
    });
});

describe("drain", () => {
    test("stops admitting at once, lets the streams in flight finish, then resolves", async () => {
        const { server, port, ended } = await listen({ model });
        try {
            const running = startStream(port, { prompt: "finish me", options: LONG });
            await running.started;
            const drained = server.drain(60_000);
            expect(await http(port, "GET", "/readyz")).toMatchObject({ status: 503, json: { status: "draining" } });
            const refused = await http(port, "POST", "/generate", { prompt: "too late", options: SHORT });
            expect(refused).toMatchObject({ status: 503, json: { error: { code: "DRAINING" } } });
            expect(refused.headers.connection).toBe("close");
            expect((await http(port, "GET", "/healthz")).status).toBe(200);
            const answer = await running.answer;
            expect(answer.events.at(-1)?.event).toBe("done");
            expect(await drained).toMatchObject({ inFlight: 1, stopped: 0 });
            expect(server.drain(0)).toBe(server.drain(60_000)); // idempotent
            expect(ended.filter((s) => s.path === "/generate").map((s) => s.outcome)).toEqual(["rejected", "done"]);
        } finally {
            await close(server);
        }
    });

    test("at the deadline the rest end with event: error SHUTTING_DOWN, and the model is free", async () => {
        const { server, port, ended } = await listen({ model });
        try {
            const running = startStream(port, { prompt: "stop me", options: LONG });
            await running.started;
            const report = await server.drain(0);
            expect(report).toMatchObject({ inFlight: 1, stopped: 1 });
            const answer = await running.answer;
            expect(answer.status).toBe(200);
            const last = answer.events.at(-1);
            expect(last?.event).toBe("error");
            expect(last?.data).toMatchObject({ code: "SHUTTING_DOWN", message: expect.stringMatching(/drain deadline/) });
            expect(ended.find((s) => s.path === "/generate")).toMatchObject({ outcome: "drained", code: "SHUTTING_DOWN" });
            expect((await model.generate("free again", SHORT)).text).toEqual(expect.any(String));
        } finally {
            await close(server);
        }
    });
});

describe("a ModelPool behind the server", () => {
    let pool: ModelPool;
    beforeAll(async () => {
        pool = await loadModelPool({ modelPath: LLADA_FIXTURE, devices: ["cpu", "cpu"], threads: 1 });
    });
    afterAll(() => pool?.dispose());

    test("concurrent requests spread over the replicas; /health and /metrics show them", async () => {
        const { server, port } = await listen({ model: pool });
        try {
            const streams = [0, 1].map((i) => startStream(port, { prompt: `long ${i}`, options: LONG }));
            await Promise.all(streams.map((s) => s.started));
            expect(pool.load().map((l) => l.rows)).toEqual([1, 1]);
            const health = await http(port, "GET", "/health");
            expect(health.json).toMatchObject({ status: "ok", device: "cpu,cpu", active: 2, replicas: [{ rows: 1, calls: 1 }, { rows: 1, calls: 1 }] });
            const text = (await http(port, "GET", "/metrics")).text;
            expect(metric(text, 'localleap_replica_rows{replica="0"}')).toBe(1);
            expect(metric(text, 'localleap_replica_rows{replica="1"}')).toBe(1);
            const answers = await Promise.all(streams.map((s) => s.answer));
            const texts = answers.map((a) => (a.events.at(-1)?.data as { result: { text: string } }).result.text);
            expect(texts).toEqual([(await model.generate("long 0", LONG)).text, (await model.generate("long 1", LONG)).text]);
        } finally {
            await close(server);
        }
    });
});

describe("the CLI's replica flags", () => {
    test("--devices lists the replicas, --replicas N repeats --device; contradictions are refused", () => {
        expect(poolDevices({})).toBeNull();
        expect(poolDevices({ devices: "cpu, cpu" })).toEqual(["cpu", "cpu"]);
        expect(poolDevices({ replicas: "3", device: "cpu" })).toEqual(["cpu", "cpu", "cpu"]);
        expect(poolDevices({ replicas: "2" })).toEqual(["auto", "auto"]);
        expect(() => poolDevices({ devices: "cpu", replicas: "2" })).toThrow(/without --replicas/);
        expect(() => poolDevices({ replicas: "0" })).toThrow(/whole number/);
    });

    test("server.js --replicas 2 --device cpu serves a pool of the reference model; SIGTERM exits 0", async () => {
        const server = await startSseProcess(["--replicas", "2", "--device", "cpu", "--quiet", "--replica-id", "cli"]);
        try {
            expect(server.output()).toMatch(/ready: localleap-reference on cpu, cpu/);
            const health = await http(server.port, "GET", "/health");
            expect(health.json).toMatchObject({ status: "ok", device: "cpu,cpu", replicas: [{ rows: 0 }, { rows: 0 }] });
            expect(health.headers["x-replica"]).toBe("cli");
            const answer = await http(server.port, "POST", "/generate", { prompt: "Hello", options: { genLength: 32 } });
            expect(answer.events.at(-1)?.event).toBe("done");
            const text = (await http(server.port, "GET", "/metrics")).text;
            expect(metric(text, 'localleap_requests_total{outcome="done",code=""}')).toBe(1);
            expect(text).toContain("nodejs_eventloop_lag_seconds"); // the process metrics, in the server's registry
            server.child.kill("SIGTERM");
            expect(await server.exited).toBe(0);
            expect(server.output()).toMatch(/drained in \d+ ms: 0 of 0 in flight finished/);
        } finally {
            if (server.child.exitCode === null) server.child.kill("SIGKILL");
        }
    });

    test("server.js --devices cpu,cuda:1 on the CPU build exits 1 with CUDA_UNAVAILABLE", async () => {
        await expect(startSseProcess(["--devices", "cpu,cuda:1", "--quiet"])).rejects.toThrow(/exited \(1\)[\s\S]*CUDA_UNAVAILABLE/);
    });
});
