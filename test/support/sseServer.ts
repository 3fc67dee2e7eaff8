// The SSE example server in process on an ephemeral port, for the tests: every request's summary
// is recorded, and nextEnd() waits for the next request that ends with a given outcome.
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createSseServer, type RequestSummary } from "../../examples/sse-server/server";
import type { Model } from "../../lib";

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
