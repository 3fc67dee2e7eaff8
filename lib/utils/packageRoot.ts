import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

let cached: string | undefined;

/**
 * The localleap package folder (holding package.json, prebuilds/, models/), found by walking up
 * from this file so that it is the same from lib/ (ts-jest, tsx) and dist/lib/ (compiled).
 * Reads only small package.json files, once per process.
 */
export function packageRoot(): string {
    if (cached !== undefined) return cached;
    let dir = __dirname;
    for (;;) {
        const manifest = path.join(dir, "package.json");
        if (existsSync(manifest)) {
            try {
                if ((JSON.parse(readFileSync(manifest, "utf8")) as { name?: unknown }).name === "localleap") return (cached = dir);
            } catch {
                // Not ours or unreadable: keep walking up.
            }
        }
        const parent = path.dirname(dir);
        if (parent === dir) return (cached = path.resolve(__dirname, "..", ".."));
        dir = parent;
    }
}
