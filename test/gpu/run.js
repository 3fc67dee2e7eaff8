#!/usr/bin/env node
// npm run test:gpu: the GPU suite on compiled JavaScript (node's test runner), so that it runs
// where TypeScript and jest are not installed. Without a CUDA GPU and the CUDA build of the
// addon it says so and exits 0: CI has no GPU.
"use strict";
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const root = path.join(__dirname, "..", "..");
const compiled = path.join(root, "dist", "test", "gpu");

function compile() {
    const tsc = path.join(root, "node_modules", "typescript", "bin", "tsc");
    if (!fs.existsSync(tsc)) return false;
    const r = spawnSync(process.execPath, [tsc, "-p", path.join(root, "tsconfig.test.json")], { stdio: "inherit" });
    return r.status === 0;
}

async function main() {
    if (!compile() && !fs.existsSync(compiled)) {
        console.error("GPU tests: no compiled tests in dist/test/gpu and no TypeScript to compile them.");
        process.exit(1);
    }
    const { getBuildInfo } = require(path.join(root, "dist", "lib", "bindings", "getAddon.js"));
    const found = await getBuildInfo({ device: "cuda" });
    const info = found.build;
    if (info === null) {
        console.log(`GPU tests skipped: they need a CUDA GPU and the CUDA build of localleap; no native binary loads (${found.error.message.split("\n")[0]}).`);
        return;
    }
    if (info.variant !== "cuda" || !info.cudaAvailable) {
        console.log(`GPU tests skipped: they need a CUDA GPU and the CUDA build of localleap; this machine has the ` +
            `${info.variant} build of libtorch ${info.torchVersion} and ${info.cudaAvailable ? "a" : "no"} usable CUDA device.`);
        return;
    }
    console.log(`GPU tests on ${info.cudaDeviceName} (libtorch ${info.torchVersion}, CUDA ${info.cudaVersion})`);
    // GPU_TEST_SKIP: comma list of file names (without .test.js) to leave out, for a device call that
    // re-validates one area and has run the others on the same native sources (the log says which).
    const skip = new Set((process.env.GPU_TEST_SKIP ?? "").split(",").map((s) => s.trim()).filter(Boolean));
    const names = fs.readdirSync(compiled).filter((f) => f.endsWith(".test.js"));
    const unknown = [...skip].filter((s) => !names.includes(`${s}.test.js`));
    if (unknown.length > 0) { console.error(`GPU_TEST_SKIP names no test file: ${unknown.join(", ")}`); process.exit(1); }
    if (skip.size > 0) console.log(`GPU tests left out (GPU_TEST_SKIP): ${[...skip].join(", ")}`);
    const files = names.filter((f) => !skip.has(f.replace(/\.test\.js$/, ""))).map((f) => path.join(compiled, f));
    const r = spawnSync(process.execPath, ["--test", "--test-concurrency=1", ...files], { stdio: "inherit", cwd: root });
    process.exit(r.status ?? 1);
}

main();
