// `npm install localleap` as a user gets it: packs this checkout (npm pack, which runs prepack),
// installs the tarball into a fresh project with npm 11's strict install-script policy, and
// there runs the README's code blocks (CommonJS, ESM, TypeScript through tsx, the CLI), checks
// the TypeScript consumer with `tsc --strict` (nodenext, no skipLibCheck), and builds the addon
// from source with node-gyp. Runs after the other suites (npm test), since packing rebuilds dist/.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { readmeBlocks } from "./readmeBlocks";

const ROOT = path.join(__dirname, "..", "..");
const README = readFileSync(path.join(ROOT, "README.md"), "utf8");
const blocks = readmeBlocks(README);
const devVersion = (name: string) => (JSON.parse(readFileSync(path.join(ROOT, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;

interface Run {
    code: number;
    stdout: string;
    stderr: string;
    ms: number;
}

function run(command: string, args: string[], cwd: string, timeoutMs = 600_000): Promise<Run> {
    const started = Date.now();
    return new Promise((resolve) => {
        execFile(command, args, { cwd, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NODE_OPTIONS: "" } }, (error, stdout, stderr) => {
            const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
            resolve({ code, stdout: String(stdout), stderr: String(stderr), ms: Date.now() - started });
        });
    });
}

const expectOk = (r: Run, what: string) => {
    if (r.code !== 0) throw new Error(`${what} exited with ${r.code}\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`);
};

let work: string;
let project: string;
let tarball: string;
let install: Run;
beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), "localleap-package-"));
    const pack = await run("npm", ["pack", "--pack-destination", work, "--json"], ROOT);
    expectOk(pack, "npm pack");
    const packed = (JSON.parse(pack.stdout.slice(pack.stdout.indexOf("["))) as { filename: string }[])[0]!;
    tarball = path.join(work, packed.filename);
    project = path.join(work, "consumer");
    await run("mkdir", ["-p", project], work);
    writeFileSync(path.join(project, "package.json"), `${JSON.stringify({ name: "consumer", version: "1.0.0", private: true }, null, 2)}\n`);
    // localleap alone under the strict install-script policy (an unreviewed install script fails it)...
    install = await run("npm", ["install", tarball, "--strict-allow-scripts", "--prefer-offline", "--no-audit", "--no-fund"], project);
    expectOk(install, "npm install --strict-allow-scripts");
    // ...then the consumer's own tools (tsx's esbuild has a postinstall script of its own).
    const tools = await run("npm", ["install", "--save-dev", `typescript@${devVersion("typescript")}`, `tsx@${devVersion("tsx")}`, `@types/node@${devVersion("@types/node")}`,
        "--prefer-offline", "--no-audit", "--no-fund"], project);
    expectOk(tools, "npm install typescript tsx @types/node");
    writeFileSync(path.join(project, "tsconfig.json"), `${JSON.stringify({
        compilerOptions: { strict: true, module: "nodenext", moduleResolution: "nodenext", target: "es2022", noEmit: true, types: ["node"] },
    }, null, 2)}\n`);
}, 900_000);
afterAll(() => {
    if (work !== undefined && process.env.LOCALLEAP_KEEP_PACKAGE_TEST !== "1") rmSync(work, { recursive: true, force: true });
});

describe("the packed package", () => {
    test("ships dist, both prebuilt binaries and the default model, and no install script", () => {
        const installed = path.join(project, "node_modules", "localleap");
        for (const file of ["dist/lib/index.js", "dist/lib/index.d.ts", "dist/lib/cli/cli.js", "models/reference/model.pt", "models/reference-ar/model.pt",
            "prebuilds/linux-x64/localleap-cpu-torch1.13.glibc.node", "prebuilds/linux-x64/localleap-cuda13.0-torch2.11.glibc.node"]) {
            expect(existsSync(path.join(installed, file))).toBe(true);
        }
        expect(existsSync(path.join(installed, "bench"))).toBe(false);
        const manifest = JSON.parse(readFileSync(path.join(installed, "package.json"), "utf8")) as { scripts?: Record<string, string>; gypfile?: boolean };
        for (const script of ["preinstall", "install", "postinstall"]) expect(manifest.scripts?.[script]).toBeUndefined();
        expect(manifest.gypfile).toBe(false); // or npm would add `node-gyp rebuild` for binding.gyp
        // Under --strict-allow-scripts an unreviewed install script fails the install: it passed, and npm said nothing about scripts.
        expect(`${install.stdout}${install.stderr}`).not.toMatch(/allowScripts|install script/i);
        const mb = statSync(tarball).size / 2 ** 20;
        process.stderr.write(`package: ${path.basename(tarball)} ${mb.toFixed(1)} MB packed; npm install took ${(install.ms / 1000).toFixed(1)} s\n`);
        // Model v2's float32 archive is ~42 MB of the ~45 MB packed (it was ~17 of ~20 with v1), its
        // causal LM for strategy apd (models/reference-ar, float32) ~9 MB more; the bound catches
        // anything else slipping in (docs/reference-model.md "Model v2 (shipped)").
        expect(mb).toBeLessThan(60);
    });

    test("every README code block is run by this test or says why not", () => {
        const unexplained = blocks.filter((b) => b.fileName === null && b.marker !== "test: sh" && !b.marker.startsWith("not run by tests"));
        expect(unexplained.map((b) => `README.md:${b.line}`)).toEqual([]);
        expect(blocks.filter((b) => b.fileName !== null).length).toBeGreaterThanOrEqual(3);
    });
});

describe("the README's code, in the consumer project", () => {
    const files = blocks.filter((b) => b.fileName !== null && !b.marker.startsWith("not run by tests"));

    test.each(files.map((b) => [b.fileName as string, b] as const))("%s runs", async (fileName, block) => {
        writeFileSync(path.join(project, fileName), block.code);
        const r = fileName.endsWith(".ts")
            ? await run(path.join(project, "node_modules", ".bin", "tsx"), [fileName], project)
            : await run(process.execPath, [fileName], project);
        expectOk(r, fileName);
        expect(r.stdout.trim().length).toBeGreaterThan(0);
        // The embedded model answers the README's word problems correctly (greedy decoding is deterministic).
        if (fileName === "index.cjs") expect(r.stdout).toMatch(/answer is 64\./);
        if (fileName === "stream.mjs") expect(r.stdout).toMatch(/\b46\b/);
        if (fileName === "chat.ts") expect(r.stdout).toMatch(/\bstop\b/);
        if (fileName === "apd.mjs") expect(r.stdout).toMatch(/answer is 84\.[\s\S]*causal-LM forwards/);
        // Replicas give one model's answers.
        if (fileName === "pool.cjs") expect(r.stdout).toMatch(/answer is 64\.[\s\S]*\b46\b/);
    });

    test("tsc --strict (nodenext, no skipLibCheck) accepts the TypeScript consumer", async () => {
        for (const b of files.filter((f) => f.fileName?.endsWith(".ts"))) writeFileSync(path.join(project, b.fileName as string), b.code);
        writeFileSync(path.join(project, "batch.ts"), [
            'import { loadModel, loadModelPool, type GenerateInput, type GenerateResult, type StreamEvent } from "localleap";',
            "export async function batch(inputs: GenerateInput[]): Promise<GenerateResult[]> {",
            "    const model = await loadModel();",
            "    const one: GenerateResult = await model.generate(inputs[0] ?? \"x\");",
            "    const many: GenerateResult[] = await model.generate(inputs, { strategy: \"low-confidence\", steps: 32, genLength: 32 });",
            "    for await (const event of model.stream(\"x\")) { const e: StreamEvent = event; void e; }",
            "    void one;",
            "    return many;",
            "}",
            "export async function pooled(inputs: GenerateInput[]): Promise<GenerateResult[]> {",
            "    const pool = await loadModelPool({ devices: [\"cpu\", \"cpu\"], threads: 1 });",
            "    const one: GenerateResult = await pool.generate(inputs[0] ?? \"x\");",
            "    for await (const event of pool.stream(\"x\")) { const e: StreamEvent = event; void e; }",
            "    const many: GenerateResult[] = await pool.generate(inputs, { strategy: \"threshold\", threshold: 0.8 });",
            "    void one;",
            "    await pool.dispose();",
            "    return many;",
            "}",
            "",
        ].join("\n"));
        const r = await run(path.join(project, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.json"], project);
        expectOk(r, "tsc --strict");
    });

    test("type errors name the bad option: a misspelled name, an unknown strategy, another strategy's option", async () => {
        const dir = path.join(project, "typeerrors");
        await run("mkdir", ["-p", dir], project);
        writeFileSync(path.join(dir, "bad.ts"), [
            'import { loadModel } from "localleap";',
            "export async function bad(): Promise<void> {",
            "    const model = await loadModel();",
            "    await model.generate(\"x\", { genlength: 64 });",
            "    await model.generate(\"x\", { strategy: \"foo\" });",
            "    await model.generate(\"x\", { strategy: \"threshold\", steps: 5 });",
            "}",
            "",
        ].join("\n"));
        writeFileSync(path.join(dir, "tsconfig.json"), readFileSync(path.join(project, "tsconfig.json"), "utf8").replace("{", '{ "files": ["bad.ts"],'));
        const r = await run(path.join(project, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.json"], dir);
        expect(r.code).not.toBe(0);
        const lines = r.stdout.split("\n").filter((l) => l.startsWith("bad.ts("));
        expect(lines.some((l) => l.startsWith("bad.ts(4,") && l.includes("'genlength'"))).toBe(true);
        expect(lines.some((l) => l.startsWith("bad.ts(5,") && l.includes('"foo"'))).toBe(true);
        // At the `steps` property, saying which strategies it needs.
        const stepsColumn = 'await model.generate("x", { strategy: "threshold", steps: 5 });'.indexOf("steps") + 5;
        expect(lines.some((l) => l.startsWith(`bad.ts(6,${stepsColumn})`) && l.includes("only with strategy") && l.includes("low-confidence"))).toBe(true);
        // The error is about the options, not "not assignable to readonly GenerateInput[]".
        expect(r.stdout).not.toContain("readonly GenerateInput[]");
    });

    test.each(blocks.filter((b) => b.marker === "test: sh").map((b) => [`README.md:${b.line}`, b] as const))("shell block %s runs", async (_where, block) => {
        for (const line of block.code.split("\n").map((l) => l.replace(/\s+#.*$/, "").trim()).filter((l) => l !== "")) {
            const r = await run("bash", ["-c", line], project);
            expectOk(r, line);
            expect(r.stdout.trim().length).toBeGreaterThan(0);
        }
    });
});

describe("the source-build fallback", () => {
    test("npx localleap build --tool gyp compiles the addon in the installed package, and it is used", async () => {
        const r = await run("npx", ["--no-install", "localleap", "build", "--tool", "gyp", "-j", "2"], project, 1_200_000);
        expectOk(r, "localleap build --tool gyp");
        const built = path.join(project, "node_modules", "localleap", "build", "Release", "localleap.node");
        expect(existsSync(built)).toBe(true);
        const info = await run("npx", ["--no-install", "localleap", "info", "--json"], project);
        expectOk(info, "localleap info --json");
        expect((JSON.parse(info.stdout) as { build: { binaryPath: string } }).build.binaryPath).toBe(built);
        const answer = await run(process.execPath, ["index.cjs"], project);
        expectOk(answer, "index.cjs with the source build");
        expect(answer.stdout).toMatch(/answer is 64\./);
    }, 1_500_000);
});
