#!/usr/bin/env node
// Compiler and linker flags for libtorch, printed for binding.gyp's command expansions
// (`<!@(node tools/gyp/libtorch.js includes)`): node-gyp has no find_package(Torch), so this
// finds the same libtorch CMakeLists.txt would: LOCALLEAP_LIBTORCH, Debian's libtorch-dev, or
// the torch of python3.
"use strict";
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

function fromFolder(root) {
    return {
        includes: [path.join(root, "include"), path.join(root, "include", "torch", "csrc", "api", "include")],
        libDirs: [path.join(root, "lib")],
        cxx11Abi: true,
    };
}

function fromPython() {
    const python = process.env.LOCALLEAP_PYTHON || "python3";
    const script =
        "import json, torch, torch.utils.cpp_extension as e; " +
        "print(json.dumps({'includes': e.include_paths(), 'libDirs': e.library_paths(), 'cxx11Abi': torch.compiled_with_cxx11_abi()}))";
    try {
        return JSON.parse(execFileSync(python, ["-c", script], { stdio: ["ignore", "pipe", "ignore"] }).toString());
    } catch {
        return null;
    }
}

function findLibtorch() {
    if (process.env.LOCALLEAP_LIBTORCH) return fromFolder(process.env.LOCALLEAP_LIBTORCH);
    if (fs.existsSync("/usr/include/torch/csrc/api/include/torch/torch.h")) {
        return { includes: ["/usr/include/torch/csrc/api/include"], libDirs: [], cxx11Abi: true };
    }
    const python = fromPython();
    if (python) return python;
    console.error("localleap: no libtorch found for node-gyp: install libtorch-dev (Debian/Ubuntu) or PyTorch, or set LOCALLEAP_LIBTORCH");
    process.exit(1);
}

const torch = findLibtorch();
const what = process.argv[2];
const out = {
    includes: torch.includes,
    cflags: [`-D_GLIBCXX_USE_CXX11_ABI=${torch.cxx11Abi ? 1 : 0}`],
    libraries: ["-ltorch", "-ltorch_cpu", "-lc10"],
    ldflags: torch.libDirs.flatMap((dir) => [`-L${dir}`, `-Wl,-rpath,${dir}`]),
}[what];
if (!out) {
    console.error("usage: libtorch.js includes|cflags|libraries|ldflags");
    process.exit(2);
}
console.log(out.join(" "));
