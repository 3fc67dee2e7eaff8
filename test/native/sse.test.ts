// The SSE example backend (examples/sse-server) over real HTTP: in-process on an ephemeral port
// with a fixture model, and as CI runs it (the compiled server as a child process, the default
// reference model).
import type { Server } from "node:http";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import type { RequestSummary } from "../../examples/sse-server/server";
import { type GenerateOptions, type GenerateResult, loadModel, type Model, type StepEvent } from "../../lib";
import { LLADA_FIXTURE } from "../support/fixtures";
import { type SseProcess, startSseProcess } from "../support/sseProcess";
import { type HttpAnswer, http } from "../support/sseClient";
import { closeServer, startServer } from "../support/sseServer";

const comparable = (result: GenerateResult) => ({ ...result, timings: null });

function expectStepsThenDone(answer: HttpAnswer): GenerateResult {
    expect(answer.status).toBe(200);
    expect(answer.headers["content-type"]).toMatch(/^text\/event-stream/);
    const names = answer.events.map((e) => e.event);
    expect(names[names.length - 1]).toBe("done");
    expect(names.slice(0, -1).every((name) => name === "step" || name === "text")).toBe(true);
    const steps = answer.events.filter((e) => e.event === "step").map((e) => e.data as StepEvent);
    expect(steps.map((s) => s.step)).toEqual(steps.map((_, i) => i));
    const done = answer.events[answer.events.length - 1]?.data as { type: string; result: GenerateResult };
    expect(done.type).toBe("done");
    expect(steps.length).toBe(done.result.steps);
    expect(steps[steps.length - 1]?.text).toBe(done.result.text);
    // The final-text chunks join to the result's text.
    const chunks = answer.events.filter((e) => e.event === "text").map((e) => (e.data as { text: string }).text);
    expect(chunks.join("")).toBe(done.result.text);
    return done.result;
}


/** Many one-token steps: long enough to be caught mid-generation. */
const LONG: GenerateOptions = { genLength: 128, blockLength: 32, strategy: "low-confidence" };

describe("in process, fixture model", () => {
    let model: Model;
    let port: number;
    let server: Server;
    let nextEnd: (outcome: RequestSummary["outcome"]) => Promise<RequestSummary>;
    beforeAll(async () => {
        model = await loadModel({ modelPath: LLADA_FIXTURE, device: "cpu", maxQueuedGenerations: 64 });
        ({ server, port, nextEnd } = await startServer(model, { maxGenLength: 256 }));
    });
    afterAll(async () => {
        if (server) await closeServer(server);
        await model?.dispose();
    });

    test("POST /generate streams step events, then done with the result generate() gives", async () => {
        const options: GenerateOptions = { genLength: 48, blockLength: 16 };
        const answer = await http(port, "POST", "/generate", { prompt: "stream me", options });
        const result = expectStepsThenDone(answer);
        expect(answer.headers["cache-control"]).toBe("no-cache");
        expect(comparable(result)).toEqual(comparable(await model.generate("stream me", options)));
        const direct: StepEvent[] = [];
        await model.generate("stream me", { ...options, onStep: (e) => direct.push(e) });
        expect(answer.events.filter((e) => e.event === "step").map((e) => e.data)).toEqual(direct);
    });

    test("chat messages go through the chat template", async () => {
        const messages = [{ role: "user", content: "hello" }];
        const answer = await http(port, "POST", "/generate", { messages, options: { genLength: 32, stopAtEos: true } });
        const result = expectStepsThenDone(answer);
        expect(comparable(result)).toEqual(comparable(await model.generate([{ role: "user", content: "hello" }], { genLength: 32, stopAtEos: true })));
    });

    test("GET /health", async () => {
        const answer = await http(port, "GET", "/health");
        expect(answer.status).toBe(200);
        expect(answer.json).toMatchObject({ status: "ok", model: model.info.metadata.name, device: "cpu", active: 0 });
    });

    test.each<[string, string, string, unknown, number, string]>([
        ["a body that is not JSON", "POST", "/generate", "{not json", 400, "BAD_REQUEST"],
        ["neither prompt nor messages", "POST", "/generate", { options: {} }, 400, "BAD_REQUEST"],
        ["both prompt and messages", "POST", "/generate", { prompt: "a", messages: [] }, 400, "BAD_REQUEST"],
        ["an unknown field", "POST", "/generate", { prompt: "a", stream: true }, 400, "BAD_REQUEST"],
        ["bad options", "POST", "/generate", { prompt: "a", options: { genLength: 30, blockLength: 7 } }, 400, "INVALID_OPTIONS"],
        ["options the server owns", "POST", "/generate", { prompt: "a", options: { signal: true } }, 400, "BAD_REQUEST"],
        ["a genLength over the server's limit", "POST", "/generate", { prompt: "a", options: { genLength: 512 } }, 400, "BAD_REQUEST"],
        ["an empty prompt", "POST", "/generate", { prompt: "" }, 400, "INVALID_INPUT"],
        ["a bad chat role", "POST", "/generate", { messages: [{ role: "robot", content: "x" }] }, 400, "INVALID_INPUT"],
        ["a prompt too long for the model", "POST", "/generate", { prompt: "word ".repeat(400), options: { genLength: 128 } }, 400, "PROMPT_TOO_LONG"],
        ["GET /generate", "GET", "/generate", undefined, 405, "METHOD_NOT_ALLOWED"],
        ["an unknown path", "GET", "/nowhere", undefined, 404, "NOT_FOUND"],
    ])("%s: a JSON error with a status, before any stream", async (_name, method, urlPath, body, status, code) => {
        const answer = await http(port, method, urlPath, body);
        expect(answer.status).toBe(status);
        expect(answer.headers["content-type"]).toMatch(/^application\/json/);
        expect(answer.json).toMatchObject({ error: { code, message: expect.any(String) } });
    });

    test("20 concurrent requests all complete, each with its own result", async () => {
        const bodies = Array.from({ length: 20 }, (_, i) => ({
            prompt: `request ${i}${" and more".repeat(i % 5)}`,
            options: { genLength: 32, blockLength: i % 2 ? 16 : 32, ...(i % 4 === 0 ? { temperature: 0.8, seed: i } : {}) },
        }));
        const answers = await Promise.all(bodies.map((body) => http(port, "POST", "/generate", body)));
        for (const [i, answer] of answers.entries()) {
            const result = expectStepsThenDone(answer);
            expect({ i, ...comparable(result) }).toEqual({ i, ...comparable(await model.generate(bodies[i]!.prompt, bodies[i]!.options)) });
        }
    });

    test("a client that disconnects aborts its generation: the model is free for the next request", async () => {
        const started = performance.now();
        const answer = await http(port, "POST", "/generate", { prompt: "disconnect", options: LONG }, (_event, index) => (index === 2 ? "disconnect" : undefined));
        expect(answer.status).toBe(200);
        expect(answer.events).toHaveLength(3);
        const summary = await nextEnd("aborted");
        // Stopped within a step or so of the disconnect, far short of the 128 steps it asked for.
        expect(summary.steps).toBeLessThan(20);
        expect(summary.path).toBe("/generate");
        const abortedMs = performance.now() - started;
        const next = await http(port, "POST", "/generate", { prompt: "next", options: { genLength: 32 } });
        expectStepsThenDone(next);
        const health = await http(port, "GET", "/health");
        expect(health.json).toMatchObject({ active: 0 });
        // A whole LONG generation, for comparison: the aborted one ended well before it would have.
        const full = performance.now();
        await model.generate("disconnect", LONG);
        expect(abortedMs).toBeLessThan(performance.now() - full);
    });
});

describe("in process, a small queue", () => {
    test("a request over maxQueuedGenerations gets 503 QUEUE_FULL as JSON, with Retry-After", async () => {
        const model = await loadModel({ modelPath: LLADA_FIXTURE, device: "cpu", maxQueuedGenerations: 2 });
        const { server, port } = await startServer(model);
        try {
            const first = http(port, "POST", "/generate", { prompt: "one", options: LONG });
            const second = http(port, "POST", "/generate", { prompt: "two", options: LONG });
            // Both accepted (one generating, one waiting on the model's worker): /health counts them.
            for (;;) {
                const health = await http(port, "GET", "/health");
                if ((health.json as { active: number }).active === 2) break;
                await new Promise((resolve) => setTimeout(resolve, 5));
            }
            const third = await http(port, "POST", "/generate", { prompt: "three", options: { genLength: 32 } });
            expect(third.status).toBe(503);
            expect(third.headers["retry-after"]).toBe("1");
            expect(third.json).toMatchObject({ error: { code: "QUEUE_FULL", hint: expect.any(String) } });
            expectStepsThenDone(await first);
            expectStepsThenDone(await second);
            // The queue drained: the same request now goes through.
            expectStepsThenDone(await http(port, "POST", "/generate", { prompt: "three", options: { genLength: 32 } }));
        } finally {
            await closeServer(server);
            await model.dispose();
        }
    });
});

describe("the compiled example as a child process (default reference model)", () => {
    let server: SseProcess | undefined;
    let port = 0;
    beforeAll(async () => {
        server = await startSseProcess(["--quiet"]);
        port = server.port;
    });
    afterAll(() => {
        if (server && server.child.exitCode === null) server.child.kill("SIGKILL");
    });

    test("answers a chat question over HTTP, then shuts down cleanly on SIGTERM", async () => {
        const messages = [{ role: "user", content: "Tom has 3 apples and buys 5 more. How many apples does he have?" }];
        const answer = await http(port, "POST", "/generate", { messages, options: { genLength: 64, stopAtEos: true } });
        const result = expectStepsThenDone(answer);
        expect(result.finishReason).toBe("eos");
        expect(result.text).toMatch(/(####|answer is)\s*\d+/);
        expect(result.steps).toBeLessThan(64);

        server?.child.kill("SIGTERM");
        expect(await server?.exited).toBe(0);
    });
});
