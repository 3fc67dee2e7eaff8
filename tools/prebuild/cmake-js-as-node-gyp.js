#!/usr/bin/env node
// prebuildify drives node-gyp; localleap builds with cmake-js (CMakeLists.txt finds libtorch and
// CUDA). This stands in for node-gyp: prebuildify calls it with `rebuild --target=... --release`,
// it runs `cmake-js rebuild`, and prebuildify then names build/Release/localleap.node after
// its tags (prebuilds/<platform>-<arch>/<name>.napi.<libc>.node).
"use strict";
const { spawnSync } = require("node:child_process");
const path = require("node:path");

const args = process.argv.slice(2);
if (args[0] !== "rebuild") {
  console.error(`cmake-js-as-node-gyp: only 'rebuild' is supported (got ${args.join(" ")})`);
  process.exit(1);
}
const root = path.join(__dirname, "..", "..");
const cmakeJs = require.resolve("cmake-js/bin/cmake-js", { paths: [root] });
const debug = args.includes("--debug");
const result = spawnSync(process.execPath, [cmakeJs, "rebuild", "--log-level", "warn", ...(debug ? ["--debug"] : [])], {
  cwd: root,
  stdio: "inherit",
});
process.exit(result.status ?? 1);
