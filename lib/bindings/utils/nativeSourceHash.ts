import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

/**
 * SHA-256 of the native sources under `root`/native, computed as tools/cmake/source_hash.cmake
 * does at build time: one line "<relative path> <sha256 of content>\n" per file, sorted by path.
 * A binary whose compiled-in hash differs was built from other sources.
 */
export function nativeSourceHash(root: string): string {
    const files = listFiles(path.join(root, "native")).map((file) => path.relative(root, file).split(path.sep).join("/"));
    files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const listing = files.map((file) => `${file} ${createHash("sha256").update(readFileSync(path.join(root, file))).digest("hex")}\n`).join("");
    return createHash("sha256").update(listing).digest("hex");
}

function listFiles(dir: string): string[] {
    return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
        const full = path.join(dir, entry.name);
        return entry.isDirectory() ? listFiles(full) : entry.isFile() ? [full] : [];
    });
}
