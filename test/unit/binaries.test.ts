import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import type { LibtorchLocation } from "../../lib/errors";
import { compareVersions } from "../../lib/bindings/utils/compareVersions";
import { cudaFromTorchVersion } from "../../lib/bindings/utils/cudaFromTorchVersion";
import { describeBindingFailure } from "../../lib/bindings/utils/describeBindingFailure";
import { inspectLibtorchDir } from "../../lib/bindings/utils/inspectLibtorchDir";
import { libtorchPreloadList } from "../../lib/bindings/utils/libtorchPreloadList";
import { listBinaryCandidates, type CandidateSources } from "../../lib/bindings/utils/listBinaryCandidates";
import { parseBinaryName } from "../../lib/bindings/utils/parseBinaryName";
import { parsePythonTorchProbe, PYTHON_TORCH_MARKER } from "../../lib/bindings/utils/parsePythonTorchProbe";
import { parseTestLoadOutput } from "../../lib/bindings/utils/parseTestLoadOutput";
import { preloadLibtorch } from "../../lib/bindings/utils/preloadLibtorch";
import { TEST_LOAD_MARKER } from "../../lib/bindings/utils/testLoadScript";
import { testLoadBinary } from "../../lib/bindings/utils/testLoadBinary";
import { versionPrefix } from "../../lib/bindings/utils/versionPrefix";

describe("parseBinaryName", () => {
    test("CUDA and CPU variants with tags", () => {
        expect(parseBinaryName("localleap-cuda13.0-torch2.11.napi.glibc.node")).toEqual({
            fileName: "localleap-cuda13.0-torch2.11.napi.glibc.node",
            variantName: "cuda13.0-torch2.11",
            variant: "cuda",
            cudaVersion: "13.0",
            torchVersion: "2.11",
            tags: ["glibc"],
        });
        expect(parseBinaryName("localleap-cpu-torch1.13.napi.node")).toMatchObject({ variant: "cpu", cudaVersion: "", torchVersion: "1.13", tags: [] });
        expect(parseBinaryName("localleap-cuda12.8-torch2.7.1.napi.musl.x64.node")?.tags).toEqual(["musl", "x64"]);
    });

    test("prebuildify 6 names (--napi --name, no napi tag) parse", () => {
        expect(parseBinaryName("localleap-cuda13.0-torch2.11.glibc.node")).toMatchObject({
            variant: "cuda", cudaVersion: "13.0", torchVersion: "2.11", tags: ["glibc"],
        });
    });

    test.each(["localleap.node", "other-cpu-torch1.13.napi.node", "localleap-rocm6-torch2.5.napi.node", "localleap-cpu-torch.napi.node"])(
        "%s is not a candidate",
        (name) => expect(parseBinaryName(name)).toBeNull(),
    );
});

describe("version helpers", () => {
    test("compareVersions is numeric", () => {
        expect(compareVersions("2.11", "2.9")).toBe(1);
        expect(compareVersions("1.13", "2.0")).toBe(-1);
        expect(compareVersions("2.5.0+cu124", "2.5")).toBe(0);
    });
    test("versionPrefix and cudaFromTorchVersion", () => {
        expect(versionPrefix("2.11.0+cu130", 2)).toBe("2.11");
        expect(versionPrefix("13.0", 1)).toBe("13");
        expect(cudaFromTorchVersion("2.11.0+cu130")).toBe("13.0");
        expect(cudaFromTorchVersion("2.5.1+cu124")).toBe("12.4");
        expect(cudaFromTorchVersion("2.5.1+cpu")).toBe("");
        expect(cudaFromTorchVersion("1.13.0")).toBe("");
    });
});

describe("libtorchPreloadList", () => {
    const files = ["libtorch.so", "libc10_cuda.so", "libtorch_cuda.so", "libc10.so", "libtorch_cpu.so", "libtorch_python.so", "libgomp.so.1"];
    test("dependency order, CUDA libraries only when asked", () => {
        expect(libtorchPreloadList("/t/lib", files, true)).toEqual([
            "/t/lib/libc10.so", "/t/lib/libtorch_cpu.so", "/t/lib/libc10_cuda.so", "/t/lib/libtorch_cuda.so", "/t/lib/libtorch.so",
        ]);
        expect(libtorchPreloadList("/t/lib", files, false)).toEqual(["/t/lib/libc10.so", "/t/lib/libtorch_cpu.so", "/t/lib/libtorch.so"]);
        expect(libtorchPreloadList("/t/lib", ["libtorch.so"], true)).toEqual(["/t/lib/libtorch.so"]);
    });
});

describe("probe output parsing", () => {
    test("python torch probe skips noise and reads the marked line", () => {
        const out = `warning: something\n${PYTHON_TORCH_MARKER}{"libDir": "/v/torch/lib", "version": "2.11.0+cu130", "cudaVersion": "13.0"}\n`;
        expect(parsePythonTorchProbe(out)).toEqual({ libDir: "/v/torch/lib", version: "2.11.0+cu130", cudaVersion: "13.0" });
        expect(parsePythonTorchProbe(`${PYTHON_TORCH_MARKER}{"libDir": "/l", "version": "2.5.0", "cudaVersion": null}`)?.cudaVersion).toBe("");
        expect(parsePythonTorchProbe("Traceback ...")).toBeNull();
        expect(parsePythonTorchProbe(`${PYTHON_TORCH_MARKER}{bad`)).toBeNull();
        expect(parsePythonTorchProbe(`${PYTHON_TORCH_MARKER}{"version": "1"}`)).toBeNull();
    });

    test("test-load output", () => {
        const info = { variant: "cuda", torchVersion: "2.11.0", cudaVersion: "13.0", cudaAvailable: true, cudaDeviceCount: 1, cudaDeviceName: "H100", defaultThreads: 16, sourceHash: "ab12" };
        expect(parseTestLoadOutput(`[W init] noise\n${TEST_LOAD_MARKER}${JSON.stringify(info)}\n`)).toEqual(info);
        expect(parseTestLoadOutput(`${TEST_LOAD_MARKER}{"variant": "tpu", "torchVersion": "1"}`)).toBeNull();
        expect(parseTestLoadOutput(`${TEST_LOAD_MARKER}null`)).toBeNull();
        expect(parseTestLoadOutput("")).toBeNull();
    });
});

const loc = (over: Partial<LibtorchLocation>): LibtorchLocation => ({
    libDir: "/x/lib", source: "system", version: "", cudaVersion: "", hasCuda: false, libraries: ["libc10.so", "libtorch.so", "libtorch_cpu.so"], ...over,
});
const pythonCuda = loc({ libDir: "/venv/torch/lib", source: "python", version: "2.11.0+cu130", cudaVersion: "13.0", hasCuda: true });
const debianCpu = loc({ libDir: "/usr/lib/x86_64-linux-gnu", source: "system", version: "1.13.0" });

const PREBUILDS = [
    "localleap-cpu-torch1.13.napi.glibc.node",
    "localleap-cuda12.8-torch2.7.napi.glibc.node",
    "localleap-cuda13.0-torch2.11.napi.glibc.node",
    "localleap-cpu-torch2.11.napi.musl.node",
    "README.md",
];
const sources = (over: Partial<CandidateSources>): CandidateSources => ({
    prebuildDir: "/pkg/prebuilds/linux-x64",
    prebuildFiles: PREBUILDS,
    sourceBuild: null,
    libtorch: [],
    device: "auto",
    libc: "glibc",
    ...over,
});
const names = (candidates: ReturnType<typeof listBinaryCandidates>) => candidates.map((c) => path.basename(c.path));

describe("listBinaryCandidates", () => {
    test("auto with a matching CUDA libtorch: that CUDA variant first, then CPU, skipped last", () => {
        const candidates = listBinaryCandidates(sources({ libtorch: [pythonCuda, debianCpu] }));
        expect(names(candidates)).toEqual([
            "localleap-cuda13.0-torch2.11.napi.glibc.node",
            "localleap-cpu-torch1.13.napi.glibc.node",
            "localleap-cpu-torch2.11.napi.musl.node",
            "localleap-cuda12.8-torch2.7.napi.glibc.node",
        ]);
        const [cuda, cpu, musl, oldCuda] = candidates;
        expect(cuda?.skipReason).toBe("");
        expect(cuda?.plans).toEqual([{ libtorch: pythonCuda, withCuda: true }]);
        expect(cpu?.plans).toEqual([{ libtorch: null, withCuda: false }, { libtorch: debianCpu, withCuda: false }]);
        expect(musl?.skipReason).toBe("built for musl, this system uses glibc");
        expect(oldCuda?.skipReason).toMatch(/needs libtorch 2.7 built for CUDA 12.x; found libtorch 2.11.0\+cu130 \(CUDA 13.0\)/);
    });

    test("device cpu puts CPU variants first", () => {
        const candidates = listBinaryCandidates(sources({ libtorch: [pythonCuda, debianCpu], device: "cpu" }));
        expect(names(candidates).slice(0, 2)).toEqual(["localleap-cpu-torch1.13.napi.glibc.node", "localleap-cuda13.0-torch2.11.napi.glibc.node"]);
    });

    test("without a CUDA libtorch every CUDA variant is skipped, saying what it needs", () => {
        const candidates = listBinaryCandidates(sources({ libtorch: [debianCpu], device: "cuda" }));
        expect(names(candidates)[0]).toBe("localleap-cpu-torch1.13.napi.glibc.node");
        const skipped = candidates.filter((c) => c.parsed?.variant === "cuda");
        expect(skipped.every((c) => /needs libtorch .* built for CUDA/.test(c.skipReason))).toBe(true);
        expect(listBinaryCandidates(sources({ libtorch: [] })).find((c) => c.parsed?.variant === "cuda")?.skipReason).toMatch(/found no libtorch$/);
    });

    test("a CUDA libtorch of unknown version is tried after matching ones", () => {
        const unknown = loc({ libDir: "/ld/lib", source: "LD_LIBRARY_PATH", hasCuda: true });
        const wrongCuda = loc({ libDir: "/w/lib", version: "2.11.0+cu128", cudaVersion: "12.8", hasCuda: true });
        const cuda = listBinaryCandidates(sources({ libtorch: [unknown, wrongCuda, pythonCuda] }))[0];
        expect(cuda?.plans.map((p) => p.libtorch?.libDir)).toEqual(["/venv/torch/lib", "/ld/lib"]);
    });

    test("newest torch, then newest CUDA, first within a group", () => {
        const files = ["localleap-cuda12.8-torch2.11.napi.node", "localleap-cuda13.0-torch2.11.napi.node", "localleap-cuda13.0-torch2.9.napi.node"];
        const anyCuda = loc({ hasCuda: true });
        expect(names(listBinaryCandidates(sources({ prebuildFiles: files, libtorch: [anyCuda] })))).toEqual([
            "localleap-cuda13.0-torch2.11.napi.node",
            "localleap-cuda12.8-torch2.11.napi.node",
            "localleap-cuda13.0-torch2.9.napi.node",
        ]);
    });

    test("LOCALLEAP_BINARY first, then the source build before the prebuilds, both tried as they are first", () => {
        const candidates = listBinaryCandidates(
            sources({ envBinary: "/mine/custom.node", sourceBuild: "/pkg/build/Release/localleap.node", libtorch: [pythonCuda] }),
        );
        expect(candidates[0]).toMatchObject({ path: "/mine/custom.node", origin: "env", parsed: null, skipReason: "" });
        expect(candidates[0]?.plans).toEqual([{ libtorch: null, withCuda: false }, { libtorch: pythonCuda, withCuda: true }]);
        expect(candidates[1]).toMatchObject({ path: "/pkg/build/Release/localleap.node", origin: "source" });
        expect(candidates.slice(2).every((c) => c.origin === "prebuild")).toBe(true);
    });

    test("no prebuilds and no source build: nothing to try", () => {
        expect(listBinaryCandidates(sources({ prebuildFiles: [] }))).toEqual([]);
    });
});

describe("describeBindingFailure", () => {
    test("lists every attempt, the libtorch found and a fix", () => {
        const { message, hint } = describeBindingFailure({
            platform: "linux-x64",
            attempts: [
                { path: "/p/a.node", origin: "prebuild", libtorchDir: null, outcome: "failed", reason: "libtorch.so.1.13: cannot open shared object file" },
                { path: "/p/b.node", origin: "prebuild", libtorchDir: null, outcome: "skipped", reason: "needs libtorch 2.11" },
            ],
            libtorch: [debianCpu],
            notes: ["python3 has no usable torch"],
            wanted: ["2.11 (CUDA 13.0)"],
        });
        expect(message).toContain("/p/a.node: failed: libtorch.so.1.13: cannot open shared object file");
        expect(message).toContain("/p/b.node: skipped: needs libtorch 2.11");
        expect(message).toContain("libtorch 1.13.0 (CPU only) at /usr/lib/x86_64-linux-gnu, from system");
        expect(message).toContain("note: python3 has no usable torch");
        expect(hint).toContain("need libtorch 2.11 (CUDA 13.0)");
        expect(hint).toContain("LOCALLEAP_LIBTORCH");
        expect(hint).toContain("npx localleap build");
    });

    test("with no libtorch at all, says how to install one", () => {
        const { message, hint } = describeBindingFailure({ platform: "linux-x64", attempts: [], libtorch: [], notes: [], wanted: [] });
        expect(message).toContain("(none: no LOCALLEAP_BINARY");
        expect(hint).toContain("sudo apt install libtorch1.13 libopenblas0-pthread");
    });
});

describe("inspectLibtorchDir", () => {
    let root = "";
    beforeAll(async () => {
        root = await mkdtemp(path.join(os.tmpdir(), "localleap-libtorch-"));
        await mkdir(path.join(root, "dist", "lib"), { recursive: true });
        await writeFile(path.join(root, "dist", "build-version"), "2.5.1+cu124\n");
        for (const f of ["libc10.so", "libtorch.so", "libtorch_cpu.so", "libtorch_cuda.so", "libc10_cuda.so", "libgomp.so"]) {
            await writeFile(path.join(root, "dist", "lib", f), "");
        }
        await mkdir(path.join(root, "debian"));
        for (const f of ["libtorch.so", "libtorch.so.1.13", "libtorch.so.1.13.0", "libtorch_cpu.so"]) await writeFile(path.join(root, "debian", f), "");
        await mkdir(path.join(root, "empty"));
    });
    afterAll(() => rm(root, { recursive: true, force: true }));

    test("reads the version from build-version and sees CUDA", async () => {
        const location = await inspectLibtorchDir(path.join(root, "dist", "lib"), "LOCALLEAP_LIBTORCH");
        expect(location).toMatchObject({ version: "2.5.1+cu124", cudaVersion: "12.4", hasCuda: true, source: "LOCALLEAP_LIBTORCH" });
        expect(location?.libraries).toEqual(["libc10.so", "libc10_cuda.so", "libtorch.so", "libtorch_cpu.so", "libtorch_cuda.so"]);
    });

    test("reads the version from versioned file names, or takes the one given", async () => {
        expect(await inspectLibtorchDir(path.join(root, "debian"), "system")).toMatchObject({ version: "1.13.0", hasCuda: false });
        expect(await inspectLibtorchDir(path.join(root, "debian"), "python", { version: "9.9.9" })).toMatchObject({ version: "9.9.9" });
    });

    test("null for folders without libtorch or that do not exist", async () => {
        expect(await inspectLibtorchDir(path.join(root, "empty"), "system")).toBeNull();
        expect(await inspectLibtorchDir(path.join(root, "absent"), "system")).toBeNull();
    });
});

describe("test-loading in a child process", () => {
    let dir = "";
    beforeAll(async () => {
        dir = await mkdtemp(path.join(os.tmpdir(), "localleap-bin-"));
        // require() loads .js as well as .node: a stand-in addon exercises the helper's protocol.
        await writeFile(
            path.join(dir, "fake.js"),
            `console.log("noise from a static initialiser");\nmodule.exports = { buildInfo: () => ({ variant: "cpu", torchVersion: "1.13.1", cudaVersion: "", cudaAvailable: false, cudaDeviceCount: 0, cudaDeviceName: "", defaultThreads: 4 }) };\n`,
        );
        await writeFile(path.join(dir, "throws.js"), `throw new Error("undefined symbol: _ZN3c10");\n`);
    });
    afterAll(() => rm(dir, { recursive: true, force: true }));

    test("a loadable binary reports its build info", async () => {
        const verdict = await testLoadBinary(path.join(dir, "fake.js"), []);
        expect(verdict).toEqual({ ok: true, buildInfo: expect.objectContaining({ variant: "cpu", torchVersion: "1.13.1", defaultThreads: 4 }) });
    });

    test("a failing binary reports why, and the verdict is cached", async () => {
        const first = testLoadBinary(path.join(dir, "throws.js"), []);
        expect(testLoadBinary(path.join(dir, "throws.js"), [])).toBe(first);
        const verdict = await first;
        expect(verdict.ok).toBe(false);
        expect(verdict.ok === false && verdict.reason).toMatch(/undefined symbol: _ZN3c10 \(exit code 1\)/);
    });

    test("a library that cannot be preloaded fails the attempt", async () => {
        const verdict = await testLoadBinary(path.join(dir, "fake.js"), [path.join(dir, "missing.so")]);
        expect(verdict.ok).toBe(false);
    });
});

describe("preloadLibtorch", () => {
    test("ignores 'did not self-register' for plain libraries and throws on missing ones", async () => {
        // libc is mapped into every Linux process: a plain shared library that surely exists.
        const maps = await readFile("/proc/self/maps", "utf8");
        const libc = maps.split("\n").map((l) => l.split(/\s+/)[5] ?? "").find((p) => /\/libc[.-][^/]*\.so/.test(p) || /\/libc\.so\.6$/.test(p));
        expect(libc).toBeDefined();
        expect(() => preloadLibtorch([libc as string])).not.toThrow();
        expect(() => preloadLibtorch(["/nonexistent/libc10.so"])).toThrow(/libc10\.so/);
    });
});
