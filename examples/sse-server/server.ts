/**
 * A small HTTP backend for localleap that streams each generation to the client as server-sent
 * events: node:http, and prom-client for the metrics.
 *
 *   POST /generate   body { "prompt": "..." } or { "messages": [{ "role": "user", "content": "..." }] },
 *                    optional "options" (GenerateOptions: genLength, strategy, temperature, ...).
 *                    Answers text/event-stream: `event: step` per decoding step (a StepEvent as
 *                    JSON), `event: text` whenever more text is final (a TextEvent: append its
 *                    `text` to show the answer as it settles), then `event: done` with
 *                    { type: "done", result }, or `event: error`.
 *   GET  /healthz    200 while the process runs (liveness)
 *   GET  /readyz     200 once the model is loaded, 503 while loading or draining (readiness)
 *   GET  /metrics    Prometheus metrics
 *   GET  /health     { status, model, device, active, served }
 *
 * Errors before the stream starts are JSON `{ "error": { code, message, hint } }` with a status:
 * 400 bad request or options, 404, 405, 413 body too large, 503 queue full (Retry-After),
 * loading or draining. A client that disconnects aborts its generation within one step. SIGTERM
 * drains: no new requests, the streams in flight finish (up to --drain-timeout-ms, then they end
 * with `event: error` SHUTTING_DOWN), exit 0.
 *
 * Run (README.md):  npx tsc -p examples/sse-server && node dist/examples/sse-server/server.js --port 8080
 * In an application, import from "localleap" instead of "../../lib".
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import { collectDefaultMetrics, type Registry } from "prom-client";
import { type GenerateInput, type GenerateOptions, InvalidOptionsError, LocalleapError } from "../../lib";
import { describeServed, loadServed, type Served } from "./loadServed";
import { createServerMetrics } from "./metrics";
import { describe, HttpError, parseGenerateBody, readJson, rejectedAtOnce, statusOf } from "./request";

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
     * drained: still running at the drain deadline, stopped (an `event: error` SHUTTING_DOWN was sent);
     * rejected: answered with an error status before any generation; ok: a plain answer.
     */
    outcome: "done" | "aborted" | "error" | "drained" | "rejected" | "ok";
    /** Step events sent. */
    steps: number;
    /** Error code of a rejected or failed request. */
    code?: string;
    /** Milliseconds from the request to its end. */
    ms: number;
}

/** Options of {@link createSseServer}. */
export interface SseServerOptions {
    /**
     * What every request uses: a Model, a ModelPool (replicas behind the same API), or a promise
     * of one: until it resolves /readyz and /generate answer 503 LOADING. Its maxQueuedGenerations
     * is the server's concurrency limit.
     */
    model: Served | Promise<Served>;
    /** Largest request body in bytes (default 1 MiB). */
    maxBodyBytes?: number;
    /** Largest options.genLength a client may ask for (default: whatever the model allows). */
    maxGenLength?: number;
    /** Sent as `x-replica` on every answer: which server answered, behind a load balancer. */
    replicaId?: string;
    /** Called when a request ends. */
    onRequestEnd?: (summary: RequestSummary) => void;
}

/** What {@link SseServer.drain} did. */
export interface DrainReport {
    /** Generations in flight when the drain started. */
    inFlight: number;
    /** Those still running at the deadline, stopped with `event: error` SHUTTING_DOWN. */
    stopped: number;
    /** Milliseconds the drain took. */
    ms: number;
}

/** The server's phase: /readyz is 200 only when "ready". */
export type ServerState = "loading" | "ready" | "draining" | "failed";

/** A node:http server with the example's routes, metrics and drain. */
export interface SseServer extends Server {
    /** The Prometheus registry /metrics answers from (the server's own). */
    readonly metrics: Registry;
    readonly state: ServerState;
    /**
     * Stops admitting (/readyz and new /generate answer 503 DRAINING), waits up to `graceMs` for
     * the generations in flight, then stops the rest with `event: error` SHUTTING_DOWN. Resolves
     * once every stream has ended; keeps listening (close the server after it). Idempotent.
     */
    drain(graceMs: number): Promise<DrainReport>;
}

/** A generation admitted and not yet ended. */
interface Flight {
    controller: AbortController;
    /** It had a step: decoding, not waiting for the model. */
    stepped: boolean;
    /** Stopped by the drain deadline. */
    drained: boolean;
}

const isPromise = (value: unknown): value is Promise<Served> => typeof (value as { then?: unknown } | null)?.then === "function";

/**
 * An HTTP server (not yet listening) that streams generations of `model` as server-sent events.
 * Requests share the model: they queue on its worker thread (or are routed to the least loaded
 * replica of a pool), at most LoadModelOptions.maxQueuedGenerations at once; one more is
 * answered 503 QUEUE_FULL.
 */
export function createSseServer(options: SseServerOptions): SseServer {
    const { maxBodyBytes = 2 ** 20, maxGenLength, replicaId, onRequestEnd } = options;
    let state: ServerState = "loading";
    let model: Served | undefined;
    const loaded = (value: Served) => {
        model = value;
        if (state === "loading") state = "ready";
    };
    if (isPromise(options.model)) {
        options.model.then(loaded, () => {
            if (state === "loading") state = "failed";
        });
    } else {
        loaded(options.model);
    }
    let nextId = 0;
    let active = 0;
    let served = 0;
    const flights = new Set<Flight>();
    let drained: (() => void) | undefined;
    let draining: Promise<DrainReport> | undefined;
    const metrics = createServerMetrics({
        queued: () => [...flights].filter((f) => !f.stepped).length,
        active: () => [...flights].filter((f) => f.stepped).length,
        ready: () => state === "ready",
        replicaRows: () => (model !== undefined && "load" in model ? model.load().map((l) => l.rows) : null),
    });

    const handle = async (req: IncomingMessage, res: ServerResponse, summary: RequestSummary): Promise<void> => {
        const json = (status: number, value: unknown, headers: Record<string, string> = {}) => {
            res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
            res.end(`${JSON.stringify(value)}\n`);
            summary.status = status;
        };
        const reject = (error: unknown, status: number) => {
            summary.outcome = "rejected";
            summary.code = describe(error).code;
            // A server on its way out also closes the connection, so that a client (or a proxy) does not reuse it.
            const closing: Record<string, string> = state === "draining" ? { connection: "close" } : {};
            json(status, { error: describe(error) }, status === 503 ? { "retry-after": "1", ...closing } : closing);
        };
        const get = (what: string) => {
            if (req.method !== "GET") throw new HttpError(405, "METHOD_NOT_ALLOWED", `use GET ${what}`);
        };
        try {
            switch (summary.path) {
                case "/healthz":
                    get("/healthz");
                    json(200, { status: "alive" });
                    return;
                case "/readyz":
                    get("/readyz");
                    json(state === "ready" ? 200 : 503, { status: state });
                    return;
                case "/metrics": {
                    get("/metrics");
                    const text = await metrics.registry.metrics();
                    res.writeHead(200, { "content-type": metrics.registry.contentType });
                    res.end(text);
                    summary.status = 200;
                    return;
                }
                case "/health": {
                    get("/health");
                    const ok = state === "ready" && model?.disposed === false;
                    const described = model === undefined ? null : describeServed(model);
                    json(ok ? 200 : 503, {
                        status: ok ? "ok" : state === "draining" || model?.disposed ? "closing" : state,
                        ...(described !== null && { model: described.name, device: described.devices.join(",") }),
                        active,
                        served,
                        ...(model !== undefined && "load" in model && { replicas: model.load() }),
                    });
                    return;
                }
                case "/generate":
                    break;
                default:
                    throw new HttpError(404, "NOT_FOUND", `no route ${summary.path}`, "use POST /generate, GET /healthz, /readyz, /metrics or /health");
            }
            if (req.method !== "POST") throw new HttpError(405, "METHOD_NOT_ALLOWED", "use POST /generate");
            const { input, options: generateOptions } = parseGenerateBody(await readJson(req, maxBodyBytes), maxGenLength);
            // Checked after the body is read, right before admission: nothing is admitted once draining.
            if (state === "draining") throw new HttpError(503, "DRAINING", "this server is shutting down and admits no new requests", "send it again: another replica answers it");
            if (model === undefined) {
                if (state === "failed") throw new HttpError(503, "LOAD_FAILED", "the model failed to load", "see the server's log");
                throw new HttpError(503, "LOADING", "the model is still loading", "retry when GET /readyz answers 200");
            }
            await streamGeneration(model, input, generateOptions, res, summary, reject);
        } catch (error) {
            if (res.headersSent) throw error;
            if (error instanceof HttpError) reject(error, error.status);
            else if (error instanceof InvalidOptionsError) reject(error, 400);
            else if (error instanceof LocalleapError) reject(error, statusOf(error));
            else reject(error, 500);
        }
    };

    const streamGeneration = async (
        target: Served,
        input: GenerateInput,
        generateOptions: GenerateOptions,
        res: ServerResponse,
        summary: RequestSummary,
        reject: (error: unknown, status: number) => void,
    ): Promise<void> => {
        // The client going away (closed tab, curl ^C, proxy timeout) stops the generation: the
        // model is free for the next request within one step.
        const controller = new AbortController();
        const flight: Flight = { controller, stepped: false, drained: false };
        const onClose = () => {
            if (!res.writableFinished) controller.abort();
        };
        res.on("close", onClose);
        flights.add(flight);
        try {
            const stream = target.stream(input, { ...generateOptions, signal: controller.signal });
            const early = await rejectedAtOnce(stream.result);
            if (early !== null) {
                if (flight.drained) reject(new HttpError(503, "SHUTTING_DOWN", "the server shut down before this generation started", "send it again: another replica answers it"), 503);
                else if (controller.signal.aborted) summary.outcome = "aborted";
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
                    flight.stepped = true;
                    res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
                    if (event.type === "step") summary.steps++;
                    else if (event.type === "done") {
                        summary.outcome = "done";
                        metrics.tokens.inc(event.result.tokens.length);
                    }
                }
            } catch (error) {
                if (flight.drained) {
                    summary.outcome = "drained";
                    summary.code = "SHUTTING_DOWN";
                    const stopped = { code: "SHUTTING_DOWN", message: "the server is shutting down: this generation was stopped at the drain deadline", hint: "send the request again" };
                    res.write(`event: error\ndata: ${JSON.stringify(stopped)}\n\n`);
                } else if (controller.signal.aborted) {
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
            flights.delete(flight);
            if (flights.size === 0) drained?.();
        }
    };

    const drain = (graceMs: number): Promise<DrainReport> => {
        draining ??= new Promise<DrainReport>((resolve) => {
            state = "draining";
            const started = performance.now();
            const inFlight = flights.size;
            let stopped = 0;
            const deadline = setTimeout(() => {
                for (const flight of flights) {
                    flight.drained = true;
                    stopped++;
                    flight.controller.abort();
                }
            }, graceMs);
            drained = () => {
                clearTimeout(deadline);
                resolve({ inFlight, stopped, ms: performance.now() - started });
            };
            if (flights.size === 0) drained();
        });
        return draining;
    };

    const server = createServer((req, res) => {
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
        if (replicaId !== undefined) res.setHeader("x-replica", replicaId);
        handle(req, res, summary)
            .catch((error: unknown) => {
                // Only reached after the headers went out: end the stream with the error.
                summary.outcome = "error";
                summary.code = describe(error).code;
                if (!res.writableEnded) res.end(`event: error\ndata: ${JSON.stringify(describe(error))}\n\n`);
            })
            .finally(() => {
                summary.ms = performance.now() - started;
                if (summary.path === "/generate") {
                    metrics.requests.inc({ outcome: summary.outcome, code: summary.code ?? "" });
                    metrics.duration.observe({ outcome: summary.outcome }, summary.ms / 1000);
                }
                onRequestEnd?.(summary);
            });
    });
    return Object.defineProperties(server, {
        metrics: { value: metrics.registry },
        state: { get: () => state },
        drain: { value: drain },
    }) as SseServer;
}

/** `node dist/examples/sse-server/server.js [--model PATH] [--port 8080] [--host 127.0.0.1] [--replicas N | --devices a,b] ...` */
async function main(): Promise<void> {
    const { values } = parseArgs({
        options: {
            model: { type: "string", short: "m" },
            device: { type: "string" },
            devices: { type: "string" },
            replicas: { type: "string" },
            threads: { type: "string" },
            host: { type: "string", default: "127.0.0.1" },
            port: { type: "string", default: process.env.PORT ?? "8080" },
            "max-queued": { type: "string", default: "16" },
            "max-batch": { type: "string", default: "16" },
            "max-gen-length": { type: "string" },
            "replica-id": { type: "string", default: process.env.REPLICA_ID ?? `${hostname()}:${process.pid}` },
            "drain-timeout-ms": { type: "string", default: process.env.DRAIN_TIMEOUT_MS ?? "30000" },
            warmup: { type: "boolean", default: false },
            quiet: { type: "boolean", default: false },
        },
    });
    const drainMs = Number(values["drain-timeout-ms"]);
    if (!Number.isFinite(drainMs) || drainMs < 0) throw new Error(`--drain-timeout-ms ${values["drain-timeout-ms"]}: give milliseconds, 0 or more`);
    let ready: Served | undefined;
    const loading = loadServed({
        ...(values.model !== undefined && { model: values.model }),
        ...(values.device !== undefined && { device: values.device }),
        ...(values.devices !== undefined && { devices: values.devices }),
        ...(values.replicas !== undefined && { replicas: values.replicas }),
        ...(values.threads !== undefined && { threads: values.threads }),
        maxQueued: Number(values["max-queued"]),
        maxBatch: Number(values["max-batch"]),
    }).then(async (served) => {
        if (values.warmup) {
            // One-time CUDA costs (context, kernels, allocator) and the CUDA graph of this shape
            // (docs/backends.md "CUDA graphs"), paid before the first request rather than by it.
            // Concurrent calls to a pool go one to each replica.
            const replicas = "size" in served ? served.size : 1;
            await Promise.all(Array.from({ length: replicas }, () => served.generate("Hello")));
        }
        ready = served;
        return served;
    });
    const server = createSseServer({
        model: loading,
        replicaId: values["replica-id"],
        ...(values["max-gen-length"] !== undefined && { maxGenLength: Number(values["max-gen-length"]) }),
        onRequestEnd: (s) => {
            if (!values.quiet) {
                process.stderr.write(`#${s.id} ${s.method} ${s.path} ${s.status} ${s.outcome}${s.code ? ` ${s.code}` : ""} ${s.steps} steps ${s.ms.toFixed(0)} ms\n`);
            }
        },
    });
    // Node's process metrics too (event-loop lag among them), in the server's registry.
    collectDefaultMetrics({ register: server.metrics });
    // Listening before the model is loaded: /healthz answers at once, /readyz once it is loaded.
    server.listen(Number(values.port), values.host, () => {
        const { port } = server.address() as AddressInfo;
        process.stdout.write(`listening on http://${values.host}:${port} (replica ${values["replica-id"]}; loading the model)\n`);
    });
    loading.then(
        (served) => {
            const { name, devices } = describeServed(served);
            process.stdout.write(`ready: ${name} on ${devices.join(", ")}, up to ${values["max-queued"]} queued generations${devices.length > 1 ? " per replica" : ""}, ${values["max-batch"]} decoded together\n`);
        },
        (error: unknown) => {
            const { code, message, hint } = describe(error);
            process.stderr.write(`error [${code}]: ${message}${hint ? `\nhint: ${hint}` : ""}\n`);
            process.exit(1);
        },
    );

    let stopping = false;
    const shutdown = (signal: string) => {
        if (stopping) process.exit(1); // a second Ctrl+C: do not wait
        stopping = true;
        process.stderr.write(`${signal}: draining: no new requests; the ones in flight get up to ${drainMs} ms to finish\n`);
        void server.drain(drainMs).then((report) => {
            process.stderr.write(`drained in ${report.ms.toFixed(0)} ms: ${report.inFlight - report.stopped} of ${report.inFlight} in flight finished, ${report.stopped} stopped\n`);
            // Every stream has ended: close the listener and the idle connections, then free the model.
            server.close(() => void (ready?.dispose() ?? Promise.resolve()).then(() => process.exit(0)));
            server.closeIdleConnections();
            setTimeout(() => server.closeAllConnections(), 1000).unref(); // a client still sending a body
        });
    };
    process.on("SIGINT", () => shutdown("SIGINT"));
    process.on("SIGTERM", () => shutdown("SIGTERM"));
}

if (require.main === module) {
    main().catch((error: unknown) => {
        const { code, message, hint } = describe(error);
        process.stderr.write(`error [${code}]: ${message}${hint ? `\nhint: ${hint}` : ""}\n`);
        process.exit(1);
    });
}
