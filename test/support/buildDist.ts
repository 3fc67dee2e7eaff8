import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, rmdirSync, statSync } from "node:fs";
import path from "node:path";
import { ROOT } from "./fixtures";

/** Newest modification time of the .ts files under `dir` (0 when there is none). */
function newestSource(dir: string): number {
    let newest = 0;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) newest = Math.max(newest, newestSource(file));
        else if (entry.name.endsWith(".ts")) newest = Math.max(newest, statSync(file).mtimeMs);
    }
    return newest;
}

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Compiles a TypeScript project (`npx tsc -p <project>`) when `output` (a file it emits, under
 * dist/) is missing or older than a source under `sources`. Jest may run suites in parallel
 * workers: a lock directory keeps two compilations from writing dist/ at once.
 */
export function ensureBuilt(project: string, output: string, sources: readonly string[]): void {
    const outFile = path.join(ROOT, output);
    const stale = () => {
        const built = (() => {
            try {
                return statSync(outFile).mtimeMs;
            } catch {
                return -1;
            }
        })();
        return built < Math.max(...sources.map((dir) => newestSource(path.join(ROOT, dir))));
    };
    if (!stale()) return;
    const lock = path.join(ROOT, "dist", ".test-build-lock");
    mkdirSync(path.dirname(lock), { recursive: true });
    const deadline = Date.now() + 180_000;
    for (;;) {
        try {
            mkdirSync(lock);
            break;
        } catch {
            if (Date.now() > deadline) throw new Error(`${lock} is held for over 3 minutes: remove it if no test is running`);
            sleep(250);
        }
    }
    try {
        if (stale()) {
            try {
                execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", path.join(ROOT, project)], { cwd: ROOT, stdio: "pipe" });
            } catch (error) {
                // tsc still emits on type errors; type checking is not these tests' job, running is.
                if (stale()) throw error;
                const out = (error as { stdout?: Buffer }).stdout?.toString() ?? "";
                console.warn(`tsc -p ${project} reported errors (the output was written anyway):\n${out}`);
            }
        }
    } finally {
        rmdirSync(lock);
    }
}
