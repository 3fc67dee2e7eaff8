// Issue 13 through the SSE example: 100 concurrent mixed calls on one model — HTTP streams, direct
// generate() calls, batches, and HTTP clients that disconnect mid-way — and every call that
// completes gives what it gives decoded alone, one call at a time (float32 fixture, CPU).
import type { Server } from "node:http";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import type { RequestSummary } from "../../examples/sse-server/server";
import { type GenerateOptions, type GenerateResult, loadModel, type Model } from "../../lib";
import { LLADA_FIXTURE } from "../support/fixtures";
import { http } from "../support/sseClient";
import { closeServer, startServer } from "../support/sseServer";

type Kind = "http" | "generate" | "batch" | "disconnect";
interface Call {
    kind: Kind;
    prompt: string;
    options: GenerateOptions;
}

const STRATEGIES: GenerateOptions[] = [
    { strategy: "localleap" },
    { strategy: "threshold", threshold: 0.6 },
    { strategy: "low-confidence", steps: 16 },
    { strategy: "localleap", temperature: 0.7, radius: 2 },
];

function calls(): Call[] {
    return Array.from({ length: 100 }, (_, i): Call => {
        const kind: Kind = i % 10 < 6 ? "http" : i % 10 < 8 ? "generate" : i % 10 === 8 ? "batch" : "disconnect";
        const cache = i % 5 === 0 ? "dual" : "none";
        // A disconnecting client asks for many one-token steps, so that it is caught mid-way.
        const options = (kind === "disconnect"
            ? { strategy: "low-confidence", steps: 128, genLength: 128, blockLength: 32, seed: i, cache }
            : {
                  ...(STRATEGIES[i % STRATEGIES.length] as GenerateOptions),
                  genLength: [16, 32][i % 2],
                  blockLength: [8, 16][(i >> 1) % 2],
                  stopAtEos: i % 3 === 1,
                  seed: i,
                  cache,
              }) as GenerateOptions;
        return { kind, prompt: `sse call ${i}:${" more".repeat(i % 7)}`, options };
    });
}

const comparable = (result: GenerateResult) => ({ ...result, timings: null });

describe("the SSE example under 100 concurrent mixed calls", () => {
    let model: Model;
    let server: Server;
    let port: number;
    let ended: RequestSummary[];
    beforeAll(async () => {
        model = await loadModel({ modelPath: LLADA_FIXTURE, device: "cpu", maxQueuedGenerations: 256 });
        ({ server, port, ended } = await startServer(model, { maxGenLength: 256 }));
    });
    afterAll(async () => {
        if (server) await closeServer(server);
        await model?.dispose();
    });

    test("every completed call equals its sequential decode; disconnected ones abort without disturbing the rest", async () => {
        const all = calls();
        const batchOf = (call: Call) => [call.prompt, `${call.prompt} second`, "third"];
        const sequential: unknown[] = [];
        for (const call of all) {
            if (call.kind === "disconnect") sequential.push(null);
            else if (call.kind === "batch") sequential.push((await model.generate(batchOf(call), call.options)).map(comparable));
            else sequential.push(comparable(await model.generate(call.prompt, call.options)));
        }
        const concurrent = await Promise.all(all.map(async (call): Promise<unknown> => {
            if (call.kind === "generate") return comparable(await model.generate(call.prompt, call.options));
            if (call.kind === "batch") return (await model.generate(batchOf(call), call.options)).map(comparable);
            const answer = await http(port, "POST", "/generate", { prompt: call.prompt, options: call.options },
                call.kind === "disconnect" ? (_event, index) => (index === 2 ? "disconnect" : undefined) : undefined);
            expect(answer.status).toBe(200);
            if (call.kind === "disconnect") return null;
            const done = answer.events[answer.events.length - 1];
            expect(done?.event).toBe("done");
            return comparable((done?.data as { result: GenerateResult }).result);
        }));
        all.forEach((call, i) => expect({ i, kind: call.kind, result: concurrent[i] }).toEqual({ i, kind: call.kind, result: sequential[i] }));
        // The server saw 70 requests: 60 completed, 10 aborted by their clients going away.
        await new Promise((resolve) => setTimeout(resolve, 200));
        const outcomes = ended.map((s) => s.outcome);
        expect(outcomes.filter((o) => o === "aborted")).toHaveLength(10);
        expect(outcomes.filter((o) => o === "done")).toHaveLength(60);
        const health = await http(port, "GET", "/health");
        expect(health.json).toMatchObject({ active: 0 });
    }, 300_000);
});
