// A small HTTP client for the SSE example's tests: real requests, SSE events parsed as they come.
import { request, type IncomingHttpHeaders } from "node:http";

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
    /** The body as received (so far, for a disconnected stream). */
    text: string;
}

/** Parses complete SSE records (blank-line separated) off the front of `buffer`; returns the rest. */
export function takeEvents(buffer: string, into: SseEvent[]): string {
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
                        resolve({ status: res.statusCode ?? 0, headers: res.headers, events, json: null, text: raw });
                    }
                }
            });
            res.on("end", () => {
                const isJson = String(res.headers["content-type"]).startsWith("application/json");
                resolve({ status: res.statusCode ?? 0, headers: res.headers, events, json: isJson ? JSON.parse(raw) : null, text: raw });
            });
            res.on("error", (error) => (disconnected ? undefined : reject(error)));
        });
        req.on("error", reject);
        req.end(payload);
    });
}
