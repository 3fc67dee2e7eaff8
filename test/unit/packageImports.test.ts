// The package ships dist/lib (package.json "files") and installs only its "dependencies": lib/
// must import nothing else. The examples may use devDependencies (prom-client in the SSE example),
// since they are not shipped.
import { readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import path from "node:path";
import { expect, test } from "@jest/globals";

const ROOT = path.join(__dirname, "..", "..");
const manifest = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string>; files: string[] };

function sources(dir: string): string[] {
    return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
        const full = path.join(dir, entry.name);
        return entry.isDirectory() ? sources(full) : entry.name.endsWith(".ts") ? [full] : [];
    });
}

/** The package a bare specifier names: "zod", "@huggingface/jinja", "node:fs" -> "node:fs". */
const packageOf = (specifier: string) => (specifier.startsWith("@") ? specifier.split("/").slice(0, 2).join("/") : specifier.split("/")[0] as string);

test("lib/ imports only node builtins, its own files and package.json dependencies", () => {
    const allowed = new Set([...Object.keys(manifest.dependencies), ...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
    const outside: string[] = [];
    for (const file of sources(path.join(ROOT, "lib"))) {
        const text = readFileSync(file, "utf8");
        for (const match of text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|\brequire\s*\(\s*|^import\s+)["']([^"']+)["']/gm)) {
            const specifier = match[1] as string;
            if (specifier.startsWith(".")) continue;
            if (!allowed.has(packageOf(specifier))) outside.push(`${path.relative(ROOT, file)}: ${specifier}`);
        }
    }
    expect(outside).toEqual([]);
    expect(manifest.files).toContain("dist/lib");
    expect(manifest.files.some((f) => f.startsWith("examples") || f.startsWith("dist/examples"))).toBe(false);
    expect(Object.keys(manifest.dependencies)).not.toContain("prom-client");
});
