// docs/backends.md "Scaling out": two processes of the SSE example (the embedded reference
// model, CPU) behind nginx on loopback with examples/sse-server/nginx.conf (least_conn, retry on
// 503 / refused connection). Requests spread over both; SIGTERM on one during in-flight
// requests loses none: each admitted request completes on its replica, and each one the
// draining replica refuses (503 DRAINING, or a refused connection once it is gone) is
// answered by the other through nginx's retry.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { ROOT } from "../support/fixtures";
import { exampleConfig, findNginx, freePort, type Nginx, startNginx } from "../support/nginx";
import { type HttpAnswer, http } from "../support/sseClient";
import { type SseProcess, startSseProcess } from "../support/sseProcess";

// cache "none": the embedded model defaults to dual, whose concurrent calls on one replica run one
// after another (the model's cached-call gate); these requests should run side by side.
const SHORT = { genLength: 32, cache: "none" };
/** A few seconds on the reference model: still running when the replica is told to stop. */
const LONG = { genLength: 64, blockLength: 32, strategy: "low-confidence", cache: "none" };

let replicas: Record<"a" | "b", SseProcess>;
let nginx: Nginx;

beforeAll(async () => {
    findNginx(); // no nginx: fail here, saying how to install it (the test is never skipped)
    const [a, b] = await Promise.all(
        (["a", "b"] as const).map((id) => startSseProcess(["--replica-id", id, "--threads", "1", "--drain-timeout-ms", "60000"])),
    );
    replicas = { a: a!, b: b! };
    const listen = await freePort();
    nginx = await startNginx(exampleConfig(ROOT, { listen, upstreams: [a!.port, b!.port] }), listen);
}, 180_000);

afterAll(async () => {
    await nginx?.stop();
    for (const replica of Object.values(replicas ?? {})) if (replica.child.exitCode === null) replica.child.kill("SIGKILL");
});

/** The result text of a complete stream, and the replica that answered; fails on anything else. */
function completed(answer: HttpAnswer): { replica: string; text: string } {
    expect(answer.status).toBe(200);
    const last = answer.events.at(-1);
    expect(last?.event).toBe("done");
    return { replica: String(answer.headers["x-replica"]), text: (last?.data as { result: { text: string } }).result.text };
}

const viaNginx = (body: unknown, onEvent?: Parameters<typeof http>[4]) => http(nginx.port, "POST", "/generate", body, onEvent);

describe("two replicas behind nginx (least_conn)", () => {
    test("concurrent requests are spread over both replicas, with the same answers", async () => {
        const answers = await Promise.all(Array.from({ length: 8 }, () => viaNginx({ prompt: "Hello", options: SHORT })));
        const done = answers.map(completed);
        const by = (id: string) => done.filter((d) => d.replica === id).length;
        expect(by("a") + by("b")).toBe(8);
        expect(by("a")).toBeGreaterThan(0);
        expect(by("b")).toBeGreaterThan(0);
        // Greedy decoding of one prompt: every replica gives the same text.
        expect(new Set(done.map((d) => d.text)).size).toBe(1);
    });

    test("SIGTERM on one replica during in-flight requests: no request is lost", async () => {
        // 1. Six long generations through nginx, three per replica; wait until each has its first step.
        let admitted = 0;
        let allAdmitted: () => void = () => undefined;
        const running = new Promise<void>((resolve) => (allAdmitted = resolve));
        const inFlight = Array.from({ length: 6 }, (_, i) => {
            let first = true;
            return viaNginx({ prompt: `in flight ${i}`, options: LONG }, (event) => {
                if (first && event.event === "step") {
                    first = false;
                    if (++admitted === 6) allAdmitted();
                }
            });
        });
        await running;

        // 2. Replica a is told to stop: it stops admitting and drains.
        replicas.a.child.kill("SIGTERM");
        for (;;) {
            const ready = await http(replicas.a.port, "GET", "/readyz");
            if (ready.status === 503) {
                expect(ready.json).toEqual({ status: "draining" });
                break;
            }
            await new Promise((resolve) => setTimeout(resolve, 10));
        }

        // 3. New requests while it drains: least_conn sends some to a, which answers 503 DRAINING
        //    (nothing admitted); nginx retries those on b.
        const duringDrain = await Promise.all(Array.from({ length: 4 }, (_, i) => viaNginx({ prompt: `during drain ${i}`, options: SHORT })));
        for (const answer of duringDrain) expect(completed(answer).replica).toBe("b");
        expect(replicas.a.output()).toMatch(/POST \/generate 503 rejected DRAINING/);

        // 4. Every in-flight generation completes on the replica that admitted it, a's included.
        const finished = (await Promise.all(inFlight)).map(completed);
        expect(finished.filter((f) => f.replica === "a").length).toBe(3);
        expect(finished.filter((f) => f.replica === "b").length).toBe(3);

        // 5. a exits 0 once its streams are done, having stopped none.
        expect(await replicas.a.exited).toBe(0);
        expect(replicas.a.output()).toMatch(/drained in \d+ ms: 3 of 3 in flight finished, 0 stopped/);

        // 6. With a gone (connections refused), nginx sends everything to b.
        const afterExit = await Promise.all(Array.from({ length: 2 }, () => viaNginx({ prompt: "after", options: SHORT })));
        for (const answer of afterExit) expect(completed(answer).replica).toBe("b");
        expect(nginx.output()).not.toMatch(/\[(emerg|alert|crit)\]/);
    });
});
