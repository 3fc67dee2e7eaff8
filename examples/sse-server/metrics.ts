// Prometheus metrics of the server (prom-client), in a registry of its own: two servers in one
// process never mix their counts. Gauges are read from the server's state when scraped.
import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** What the gauges read at scrape time. */
export interface MetricsState {
    /** Admitted generations that have not had their first step yet (waiting for the model). */
    queued(): number;
    /** Admitted generations that are decoding (had a step). */
    active(): number;
    /** 1 when the model is loaded and the server admits requests. */
    ready(): boolean;
    /** Rows in flight per replica of a pool (ModelPool.load()), or null for one model. */
    replicaRows(): number[] | null;
}

export interface ServerMetrics {
    registry: Registry;
    /** /generate requests by how they ended (RequestSummary.outcome) and error code ("" for none). */
    requests: Counter<"outcome" | "code">;
    /** Seconds from a /generate request to its end, by outcome. */
    duration: Histogram<"outcome">;
    /** Tokens of completed generations; tokens/s is rate(localleap_generated_tokens_total[1m]). */
    tokens: Counter;
}

export function createServerMetrics(state: MetricsState, registry = new Registry()): ServerMetrics {
    const registers = [registry];
    new Gauge({ name: "localleap_queue_depth", help: "Admitted generations waiting for their first step", registers, collect() {
        this.set(state.queued());
    } });
    new Gauge({ name: "localleap_active_rows", help: "Admitted generations decoding now (one row each)", registers, collect() {
        this.set(state.active());
    } });
    new Gauge({ name: "localleap_ready", help: "1 when the model is loaded and the server admits requests (what /readyz says)", registers, collect() {
        this.set(state.ready() ? 1 : 0);
    } });
    new Gauge({ name: "localleap_replica_rows", help: "Rows in flight on each replica of the model pool", labelNames: ["replica"], registers, collect() {
        state.replicaRows()?.forEach((rows, replica) => this.set({ replica: String(replica) }, rows));
    } });
    return {
        registry,
        requests: new Counter({ name: "localleap_requests_total", help: "/generate requests by outcome (done, aborted, error, drained, rejected) and error code", labelNames: ["outcome", "code"], registers }),
        duration: new Histogram({
            name: "localleap_request_duration_seconds",
            help: "Seconds from a /generate request to its end, by outcome",
            labelNames: ["outcome"],
            buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
            registers,
        }),
        tokens: new Counter({ name: "localleap_generated_tokens_total", help: "Tokens of completed generations (tokens/s: rate() of this)", registers }),
    };
}
