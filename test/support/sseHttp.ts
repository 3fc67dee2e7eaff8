// The SSE example server over real HTTP, for the tests: a client that parses server-sent events
// (and can disconnect mid-stream), and a server on an ephemeral port that records each request.
import { request, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createSseServer, type RequestSummary } from "../../examples/sse-server/server";
import type { Model } from "../../lib";

export interface SseEvent {
    event: string;
    data: unknown;
}

export interface HttpAnswer {
    status: number;
    headers: IncomingHttpHeaders;
    /** The parsed events of a text/event-stream answer. */
    events: SseEvent[];
    /** The parsed JSON of a JSON answer. */
    json: unknown;
}

/** Parses complete SSE records (blank-line separated) off the front of `buffer`; returns the rest. */
function takeEvents(buffer: string, into: SseEvent[]): string {
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
        const record = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = "message";
        const data: string[] = [];
        for (const line of record.split("\n")) {
            if (line.startsWith(":")) continue;
            const colon = line.indexOf(":");
            const field = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
            if (field === "event") event = value;
            else if (field === "data") data.push(value);
        }
        if (data.length > 0) into.push({ event, data: JSON.parse(data.join("\n")) });
    }
    return buffer;
}

/**
 * One real HTTP request. `onEvent` sees each SSE event as it arrives and may return "disconnect"
 * to close the connection there (the answer then resolves with the events so far).
 */
export function http(
    port: number,
    method: string,
    urlPath: string,
    body?: unknown,
    onEvent?: (event: SseEvent, index: number) => "disconnect" | void,
): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
        const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
        const req = request({ host: "127.0.0.1", port, method, path: urlPath, headers: payload ? { "content-type": "application/json" } : {} }, (res) => {
            const events: SseEvent[] = [];
            let buffer = "";
            let raw = "";
            let disconnected = false;
            res.setEncoding("utf8");
            res.on("data", (chunk: string) => {
                raw += chunk;
                if (!String(res.headers["content-type"]).startsWith("text/event-stream")) return;
                const before = events.length;
                buffer = takeEvents(buffer + chunk, events);
                for (let i = before; i < events.length && !disconnected; i++) {
                    if (onEvent?.(events[i] as SseEvent, i) === "disconnect") {
                        disconnected = true;
                        events.length = i + 1;
                        req.destroy();
                        resolve({ status: res.statusCode ?? 0, headers: res.headers, events, json: null });
                    }
                }
            });
            res.on("end", () => {
                const isJson = String(res.headers["content-type"]).startsWith("application/json");
                resolve({ status: res.statusCode ?? 0, headers: res.headers, events, json: isJson ? JSON.parse(raw) : null });
            });
            res.on("error", (error) => (disconnected ? undefined : reject(error)));
        });
        req.on("error", reject);
        req.end(payload);
    });
}

/** A server for `model` on an ephemeral port, with every request's summary recorded. */
export async function startServer(model: Model, options: { maxGenLength?: number } = {}): Promise<{ server: Server; port: number; ended: RequestSummary[]; nextEnd: (outcome: RequestSummary["outcome"]) => Promise<RequestSummary> }> {
    const ended: RequestSummary[] = [];
    const waiters: [RequestSummary["outcome"], (s: RequestSummary) => void][] = [];
    const server = createSseServer({
        model,
        ...options,
        onRequestEnd: (summary) => {
            ended.push(summary);
            const i = waiters.findIndex(([outcome]) => outcome === summary.outcome);
            if (i >= 0) waiters.splice(i, 1)[0]?.[1](summary);
        },
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const nextEnd = (outcome: RequestSummary["outcome"]) => {
        const already = ended.find((s) => s.outcome === outcome && !(s as { taken?: boolean }).taken);
        if (already) return Promise.resolve(Object.assign(already, { taken: true }));
        return new Promise<RequestSummary>((resolve) => waiters.push([outcome, (s) => resolve(Object.assign(s, { taken: true }))]));
    };
    return { server, port: (server.address() as AddressInfo).port, ended, nextEnd };
}

export const closeServer = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

