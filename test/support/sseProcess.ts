// The compiled SSE example (dist/examples/sse-server/server.js) as a child process, as it is run
// in production: started on an ephemeral port, resolved once it says it is ready.
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { ensureBuilt } from "./buildDist";
import { ROOT } from "./fixtures";

export interface SseProcess {
    child: ChildProcess;
    port: number;
    /** Everything it printed so far (stdout and stderr). */
    output(): string;
    /** Its exit code (null when killed by a signal). */
    exited: Promise<number | null>;
}

/** Compiles the example when stale, starts it with `args` (plus --port 0) and waits for "ready:". */
export async function startSseProcess(args: readonly string[], timeoutMs = 90_000): Promise<SseProcess> {
    ensureBuilt("examples/sse-server/tsconfig.json", "dist/examples/sse-server/server.js", ["lib", "examples/sse-server"]);
    const child = spawn(process.execPath, [path.join(ROOT, "dist", "examples", "sse-server", "server.js"), "--port", "0", ...args], {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the server did not get ready in ${timeoutMs} ms:\n${output}`)), timeoutMs);
        const onData = (chunk: Buffer) => {
            output += chunk.toString();
            const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
            if (match && /^ready: /m.test(output)) {
                clearTimeout(timer);
                resolve(Number(match[1]));
            }
        };
        child.stdout?.on("data", onData);
        child.stderr?.on("data", onData);
        void exited.then((code) => {
            clearTimeout(timer);
            reject(new Error(`the server exited (${code}):\n${output}`));
        });
    });
    return { child, port, output: () => output, exited };
}
