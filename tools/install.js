#!/usr/bin/env node
// npm install hook. Keeps a usable native binary: a prebuilt one for this platform when it loads
// (test-loaded in a child process by lib/bindings/getAddon), else a source build against the
// libtorch found (cmake-js; node-gyp when CMake is missing or LOCALLEAP_BUILD=gyp).
// It never fails the install: when nothing works it says what to install, and loadModel() later
// rejects with NativeBindingError saying the same. LOCALLEAP_SKIP_INSTALL=1 skips it.
"use strict";
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const root = path.join(__dirname, "..");
const say = (message) => console.log(`localleap: ${message}`);

function run(command, args) {
    const r = spawnSync(command, args, { cwd: root, stdio: "inherit", shell: process.platform === "win32" });
    return r.status === 0;
}

function hasCommand(name) {
    return spawnSync(name, ["--version"], { stdio: "ignore" }).status === 0;
}

async function prebuiltWorks() {
    const loader = path.join(root, "dist", "lib", "bindings", "getAddon.js");
    if (!fs.existsSync(loader)) return false; // a git checkout before `tsc`: build from source
    const { getBuildInfo } = require(loader);
    const info = await getBuildInfo({ device: "auto" });
    if (info.build === null) return false;
    say(`using ${path.relative(root, info.build.binaryPath)} (${info.build.variantName}${info.build.cudaAvailable ? `, ${info.build.cudaDeviceName}` : ""})`);
    return true;
}

function buildFromSource() {
    const useGyp = process.env.LOCALLEAP_BUILD === "gyp" || !hasCommand("cmake");
    say(`building from source with ${useGyp ? "node-gyp (CPU variant)" : "cmake-js"}`);
    if (useGyp) return run(process.execPath, [require.resolve("node-gyp/bin/node-gyp.js", { paths: [root, path.dirname(process.execPath)] }), "rebuild"]);
    return run(process.execPath, [require.resolve("cmake-js/bin/cmake-js", { paths: [root] }), "build", "--log-level", "warn"]);
}

async function main() {
    if (process.env.LOCALLEAP_SKIP_INSTALL === "1") return;
    if (await prebuiltWorks().catch(() => false)) return;
    let built = false;
    try {
        built = buildFromSource();
    } catch (error) {
        say(`source build could not start: ${error.message}`);
    }
    if (!built) {
        say("no usable native binary. Install libtorch (Debian/Ubuntu: sudo apt install libtorch-dev libopenblas0-pthread; " +
            "or PyTorch: pip install torch) and a C++ toolchain with CMake, then run `npm rebuild localleap`; " +
            "or set LOCALLEAP_LIBTORCH to a libtorch folder. loadModel() will report the same until then.");
    }
}

main();
