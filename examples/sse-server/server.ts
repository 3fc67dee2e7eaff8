/**
 * A small HTTP backend for localleap that streams each generation to the client as server-sent
 * events. Dependency-free: node:http only.
 *
 *   POST /generate   body { "prompt": "..." } or { "messages": [{ "role": "user", "content": "..." }] },
 *                    optional "options" (GenerateOptions: genLength, strategy, temperature, ...).
 *                    Answers text/event-stream: `event: step` per decoding step (a StepEvent as
 *                    JSON), `event: text` whenever more text is final (a TextEvent: append its
 *                    `text` to show the answer as it settles), then `event: done` with
 *                    { type: "done", result }, or `event: error`.
 *   GET  /health     { status, model, device, active, served }
 *
 * Errors before the stream starts are JSON `{ "error": { code, message, hint } }` with a status:
 * 400 bad request or options, 404, 405, 413 body too large, 503 queue full (Retry-After) or
 * shutting down. A client that disconnects aborts its generation within one step.
 *
 * Run (README.md):  npx tsc -p examples/sse-server && node dist/examples/sse-server/server.js --port 8080
 * In an application, import from "localleap" instead of "../../lib".
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import {
    type ChatMessage,
    type DeviceOption,
    type GenerateInput,
    type GenerateOptions,
    InvalidOptionsError,
    LocalleapError,
    loadModel,
    type Model,
    parseGenerateOptions,
} from "../../lib";

/** How one request ended, for logs and tests. */
export interface RequestSummary {
    /** Sequence number of the request, from 1. */
    id: number;
    method: string;
    path: string;
    /** HTTP status sent (200 for every streamed generation, whatever its end). */
    status: number;
    /**
     * done: the result was sent; aborted: the client went away and the generation was stopped;
     * error: the generation failed after the stream started (an `event: error` was sent);
     * rejected: answered with an error status before any generation; ok: a plain JSON answer.
     */
    outcome: "done" | "aborted" | "error" | "rejected" | "ok";
    /** Step events sent. */
    steps: number;
    /** Error code of a rejected or failed request. */
    code?: string;
    /** Milliseconds from the request to its end. */
    ms: number;
}

/** Options of {@link createSseServer}. */
export interface SseServerOptions {
    /** The model every request uses; its maxQueuedGenerations is the server's concurrency limit. */
    model: Model;
    /** Largest request body in bytes (default 1 MiB). */
    maxBodyBytes?: number;
    /** Largest options.genLength a client may ask for (default: whatever the model allows). */
    maxGenLength?: number;
    /** Called when a request ends. */
    onRequestEnd?: (summary: RequestSummary) => void;
}

/** Generation options a client may not send: the server owns them. */
const SERVER_OWNED: readonly string[] = ["signal", "onStep"];

class HttpError extends Error {
    constructor(readonly status: number, readonly code: string, message: string, readonly hint?: string) {
        super(message);
    }
}

/** The HTTP status for a localleap error raised before a generation started. */
function statusOf(error: LocalleapError): number {
    switch (error.code) {
        case "INVALID_OPTIONS":
        case "INVALID_INPUT":
        case "PROMPT_TOO_LONG":
            return 400;
        case "QUEUE_FULL":
        case "MODEL_DISPOSED":
            return 503;
        default:
            return 500;
    }
}

/** `{ code, message, hint }` of any error, for JSON bodies and `event: error`. */
function describe(error: unknown): { code: string; message: string; hint?: string } {
    if (error instanceof HttpError || error instanceof LocalleapError) {
        return { code: error.code, message: error.message, ...(error.hint !== undefined && { hint: error.hint }) };
    }
    return { code: "INTERNAL", message: error instanceof Error ? error.message : String(error) };
}

/**
 * Resolves to the error when `promise` rejects before the event loop turns, else to null.
 * generate() checks its options, input, prompt length and queue before it starts, and rejects
 * at once when one fails: those errors get a proper HTTP status instead of an SSE error event.
 */
function rejectedAtOnce(promise: Promise<unknown>): Promise<unknown> {
    return new Promise((resolve) => {
        const timer = setImmediate(() => resolve(null));
        promise.then(
            () => undefined,
            (error: unknown) => {
                clearImmediate(timer);
                resolve(error);
            },
        );
    });
}

async function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size > maxBytes) throw new HttpError(413, "BODY_TOO_LARGE", `the request body is over ${maxBytes} bytes`);
        chunks.push(chunk as Buffer);
    }
    try {
        return JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch (error) {
        throw new HttpError(400, "BAD_REQUEST", `the body is not JSON: ${(error as Error).message}`, 'send { "prompt": "..." } or { "messages": [...] }');
    }
}

/** The input and options of a /generate body; throws HttpError or InvalidOptionsError. */
function parseGenerateBody(body: unknown, maxGenLength: number | undefined): { input: GenerateInput; options: GenerateOptions } {
    const hint = 'send { "prompt": "text" } or { "messages": [{ "role": "user", "content": "text" }] }, with optional "options"';
    if (body === null || typeof body !== "object" || Array.isArray(body)) throw new HttpError(400, "BAD_REQUEST", "the body must be a JSON object", hint);
    const { prompt, messages, options = {}, ...rest } = body as { prompt?: unknown; messages?: unknown; options?: unknown };
    const unknownKeys = Object.keys(rest);
    if (unknownKeys.length > 0) throw new HttpError(400, "BAD_REQUEST", `unknown field${unknownKeys.length > 1 ? "s" : ""} ${unknownKeys.join(", ")}`, hint);
    if ((prompt === undefined) === (messages === undefined)) throw new HttpError(400, "BAD_REQUEST", "give exactly one of prompt and messages", hint);
    if (prompt !== undefined && typeof prompt !== "string") throw new HttpError(400, "BAD_REQUEST", "prompt must be a string", hint);
    if (messages !== undefined && !Array.isArray(messages)) throw new HttpError(400, "BAD_REQUEST", "messages must be an array", hint);
    if (options === null || typeof options !== "object" || Array.isArray(options)) throw new HttpError(400, "BAD_REQUEST", "options must be an object", hint);
    const owned = Object.keys(options).filter((key) => SERVER_OWNED.includes(key));
    if (owned.length > 0) throw new HttpError(400, "BAD_REQUEST", `options.${owned[0]} is set by the server`, "drop it; closing the connection aborts the generation");
    // Checked here for a 400 that lists every bad field; generate() checks again.
    const resolved = parseGenerateOptions(options);
    if (maxGenLength !== undefined && resolved.genLength > maxGenLength) {
        throw new HttpError(400, "BAD_REQUEST", `options.genLength ${resolved.genLength} is over this server's limit of ${maxGenLength}`);
    }
    // A message list is validated (roles, contents) by generate().
    return { input: (prompt as string | undefined) ?? (messages as ChatMessage[]), options: options as GenerateOptions };
}

/**
 * An HTTP server (not yet listening) that streams generations of `model` as server-sent events.
 * Requests share the model: they queue on its worker thread, at most
 * LoadModelOptions.maxQueuedGenerations at once; one more is answered 503 QUEUE_FULL.
 */
export function createSseServer(options: SseServerOptions): Server {
    const { model, maxBodyBytes = 2 ** 20, maxGenLength, onRequestEnd } = options;
    let nextId = 0;
    let active = 0;
    let served = 0;

    const handle = async (req: IncomingMessage, res: ServerResponse, summary: RequestSummary): Promise<void> => {
        const json = (status: number, value: unknown, headers: Record<string, string> = {}) => {
            res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
            res.end(`${JSON.stringify(value)}\n`);
            summary.status = status;
        };
        const reject = (error: unknown, status: number) => {
            summary.outcome = "rejected";
            summary.code = describe(error).code;
            json(status, { error: describe(error) }, status === 503 ? { "retry-after": "1" } : {});
        };
        try {
            if (summary.path === "/health") {
                if (req.method !== "GET") throw new HttpError(405, "METHOD_NOT_ALLOWED", "use GET /health");
                json(model.disposed ? 503 : 200, {
                    status: model.disposed ? "closing" : "ok",
                    model: model.info.metadata.name,
                    device: model.info.device,
                    active,
                    served,
                });
                return;
            }
            if (summary.path !== "/generate") throw new HttpError(404, "NOT_FOUND", `no route ${summary.path}`, "use POST /generate or GET /health");
            if (req.method !== "POST") throw new HttpError(405, "METHOD_NOT_ALLOWED", "use POST /generate");
            const { input, options: generateOptions } = parseGenerateBody(await readJson(req, maxBodyBytes), maxGenLength);
            await streamGeneration(input, generateOptions, res, summary, reject);
        } catch (error) {
            if (res.headersSent) throw error;
            if (error instanceof HttpError) reject(error, error.status);
            else if (error instanceof InvalidOptionsError) reject(error, 400);
            else if (error instanceof LocalleapError) reject(error, statusOf(error));
            else reject(error, 500);
        }
    };

    const streamGeneration = async (
        input: GenerateInput,
        generateOptions: GenerateOptions,
        res: ServerResponse,
        summary: RequestSummary,
        reject: (error: unknown, status: number) => void,
    ): Promise<void> => {
        // The client going away (closed tab, curl ^C, proxy timeout) stops the generation: the
        // model is free for the next request within one step.
        const controller = new AbortController();
        const onClose = () => {
            if (!res.writableFinished) controller.abort();
        };
        res.on("close", onClose);
        try {
            const stream = model.stream(input, { ...generateOptions, signal: controller.signal });
            const early = await rejectedAtOnce(stream.result);
            if (early !== null) {
                if (controller.signal.aborted) summary.outcome = "aborted";
                else if (early instanceof LocalleapError) reject(early, statusOf(early));
                else reject(early, 500);
                return;
            }
            res.writeHead(200, {
                "content-type": "text/event-stream; charset=utf-8",
                "cache-control": "no-cache",
                connection: "keep-alive",
                "x-accel-buffering": "no", // nginx: do not buffer the stream
            });
            res.flushHeaders();
            summary.status = 200;
            active++;
            try {
                for await (const event of stream) {
                    res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
                    if (event.type === "step") summary.steps++;
                    else summary.outcome = "done";
                }
            } catch (error) {
                if (controller.signal.aborted) {
                    summary.outcome = "aborted";
                } else {
                    summary.outcome = "error";
                    summary.code = describe(error).code;
                    res.write(`event: error\ndata: ${JSON.stringify(describe(error))}\n\n`);
                }
            } finally {
                active--;
                if (summary.outcome === "done") served++;
            }
            res.end();
        } finally {
            res.off("close", onClose);
        }
    };

    return createServer((req, res) => {
        const started = performance.now();
        const summary: RequestSummary = {
            id: ++nextId,
            method: req.method ?? "",
            path: new URL(req.url ?? "/", "http://localhost").pathname,
            status: 0,
            outcome: "ok",
            steps: 0,
            ms: 0,
        };
        handle(req, res, summary)
            .catch((error: unknown) => {
                // Only reached after the headers went out: end the stream with the error.
                summary.outcome = "error";
                summary.code = describe(error).code;
                if (!res.writableEnded) res.end(`event: error\ndata: ${JSON.stringify(describe(error))}\n\n`);
            })
            .finally(() => {
                summary.ms = performance.now() - started;
                onRequestEnd?.(summary);
            });
    });
}

/** `node dist/examples/sse-server/server.js [--model PATH] [--port 8080] [--host 127.0.0.1] ...` */
async function main(): Promise<void> {
    const { values } = parseArgs({
        options: {
            model: { type: "string", short: "m" },
            device: { type: "string" },
            threads: { type: "string" },
            host: { type: "string", default: "127.0.0.1" },
            port: { type: "string", default: process.env.PORT ?? "8080" },
            "max-queued": { type: "string", default: "16" },
            "max-batch": { type: "string", default: "16" },
            "max-gen-length": { type: "string" },
            warmup: { type: "boolean", default: false },
            quiet: { type: "boolean", default: false },
        },
    });
    const model = await loadModel({
        ...(values.model !== undefined && { modelPath: values.model }),
        ...(values.device !== undefined && { device: values.device as DeviceOption }),
        ...(values.threads !== undefined && { threads: Number(values.threads) }),
        maxQueuedGenerations: Number(values["max-queued"]),
        // Concurrent requests are decoded together, one forward per step (docs/scheduler.md).
        maxBatchSize: Number(values["max-batch"]),
    });
    if (values.warmup) {
        // One-time CUDA costs (context, kernels, allocator) and the CUDA graph of this shape
        // (docs/backends.md "CUDA graphs"), paid before the first request rather than by it.
        await model.generate("Hello");
    }
    const server = createSseServer({
        model,
        ...(values["max-gen-length"] !== undefined && { maxGenLength: Number(values["max-gen-length"]) }),
        onRequestEnd: (s) => {
            if (!values.quiet) {
                process.stderr.write(`#${s.id} ${s.method} ${s.path} ${s.status} ${s.outcome}${s.code ? ` ${s.code}` : ""} ${s.steps} steps ${s.ms.toFixed(0)} ms\n`);
            }
        },
    });
    server.listen(Number(values.port), values.host, () => {
        const { port } = server.address() as AddressInfo;
        const { name } = model.info.metadata;
        process.stdout.write(`listening on http://${values.host}:${port} (${name} on ${model.info.device}, up to ${values["max-queued"]} queued generations, ${values["max-batch"]} decoded together)\n`);
    });

    let stopping = false;
    const shutdown = () => {
        if (stopping) process.exit(1); // a second Ctrl+C: do not wait
        stopping = true;
        process.stderr.write("shutting down: finishing in-flight generations\n");
        // Stop accepting connections; once the streams in flight have ended, free the model.
        server.close(() => void model.dispose().then(() => process.exit(0)));
        server.closeIdleConnections();
    };
    process.on("SIGINT", shutdown);
    process.on("SIGTERM", shutdown);
}

if (require.main === module) {
    main().catch((error: unknown) => {
        const { code, message, hint } = describe(error);
        process.stderr.write(`error [${code}]: ${message}${hint ? `\nhint: ${hint}` : ""}\n`);
        process.exit(1);
    });
}
