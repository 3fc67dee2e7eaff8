// nginx for the load-balancer test: found on this machine (tools/setup.sh installs Debian's),
// run in the foreground as a non-root user with every path under a temporary prefix.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { accessSync, chmodSync, chownSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, Socket } from "node:net";
import os from "node:os";
import path from "node:path";

/** The nginx binary: $LOCALLEAP_NGINX, else the first on PATH or in the sbin folders (not on a non-root PATH). */
export function findNginx(): string {
    const given = process.env.LOCALLEAP_NGINX;
    const dirs = [...(process.env.PATH ?? "").split(path.delimiter), "/usr/sbin", "/usr/local/sbin", "/usr/local/nginx/sbin"];
    for (const candidate of given ? [given] : dirs.filter((d) => d !== "").map((d) => path.join(d, "nginx"))) {
        try {
            accessSync(candidate, constants.X_OK);
            return candidate;
        } catch {
            // next
        }
    }
    throw new Error(
        given
            ? `LOCALLEAP_NGINX=${given} is not an executable nginx`
            : "nginx was not found (searched PATH, /usr/sbin, /usr/local/sbin): the load-balancer test needs it. " +
                  "Run `bash tools/setup.sh` (it installs Debian's nginx), or `apt-get install nginx`, or set LOCALLEAP_NGINX=/path/to/nginx",
    );
}

/** A free loopback port (the kernel's pick, released for nginx to bind). */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const probe = createServer();
        probe.on("error", reject);
        probe.listen(0, "127.0.0.1", () => {
            const { port } = probe.address() as { port: number };
            probe.close(() => resolve(port));
        });
    });
}

export interface Nginx {
    child: ChildProcess;
    port: number;
    prefix: string;
    output(): string;
    /** Fast shutdown (SIGTERM), then removes the prefix. */
    stop(): Promise<void>;
}

/**
 * Starts `nginx -p PREFIX -c PREFIX/nginx.conf -e stderr` with `config` (a complete nginx.conf,
 * `daemon off`). Run by root, it runs as nobody: the tests stand in for a non-root deployment.
 */
export async function startNginx(config: string, port: number): Promise<Nginx> {
    const binary = findNginx();
    const prefix = mkdtempSync(path.join(os.tmpdir(), "localleap-nginx-"));
    const confPath = path.join(prefix, "nginx.conf");
    writeFileSync(confPath, config);
    let ids: { uid: number; gid: number } | null = null;
    if (process.getuid?.() === 0) {
        const id = (flag: string) => Number(execFileSync("id", [flag, "nobody"], { encoding: "utf8" }).trim());
        ids = { uid: id("-u"), gid: id("-g") };
        chownSync(prefix, ids.uid, ids.gid);
        chmodSync(confPath, 0o644);
    }
    const child = spawn(binary, ["-p", prefix, "-c", confPath, "-e", "stderr"], { cwd: prefix, stdio: ["ignore", "pipe", "pipe"], ...(ids ?? {}) });
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
    const stop = async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
        await exited;
        rmSync(prefix, { recursive: true, force: true });
    };
    // Ready once it accepts connections on its port.
    const deadline = Date.now() + 15_000;
    for (;;) {
        if (child.exitCode !== null) {
            await stop();
            throw new Error(`nginx (${binary}) exited with ${child.exitCode}:\n${output}`);
        }
        if (await accepts(port)) break;
        if (Date.now() > deadline) {
            await stop();
            throw new Error(`nginx (${binary}) did not listen on 127.0.0.1:${port} within 15 s:\n${output}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return { child, port, prefix, output: () => output, stop };
}

function accepts(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const socket = new Socket();
        socket.once("connect", () => {
            socket.destroy();
            resolve(true);
        });
        socket.once("error", () => resolve(false));
        socket.connect(port, "127.0.0.1");
    });
}

/** examples/sse-server/nginx.conf with its listen port and the two upstream ports changed. */
export function exampleConfig(root: string, ports: { listen: number; upstreams: [number, number] }): string {
    const original = readFileSync(path.join(root, "examples", "sse-server", "nginx.conf"), "utf8");
    const config = original
        .replace("listen 127.0.0.1:8080;", `listen 127.0.0.1:${ports.listen};`)
        .replace("server 127.0.0.1:8081 ", `server 127.0.0.1:${ports.upstreams[0]} `)
        .replace("server 127.0.0.1:8082 ", `server 127.0.0.1:${ports.upstreams[1]} `);
    for (const port of [ports.listen, ...ports.upstreams]) {
        if (!config.includes(`127.0.0.1:${port}`)) throw new Error(`examples/sse-server/nginx.conf changed shape: port ${port} could not be set`);
    }
    return config;
}
