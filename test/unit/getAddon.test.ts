import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, jest, test } from "@jest/globals";
import { getAddon, getBuildInfo } from "../../lib/bindings/getAddon";
import { NativeBindingError } from "../../lib/errors";
import { resolveDevice } from "../../lib/utils/resolveDevice";

let root = "";
jest.mock("../../lib/utils/packageRoot", () => ({ packageRoot: () => root }));

beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "localleap-pkg-"));
    await mkdir(path.join(root, "prebuilds", `${process.platform}-${process.arch}`), { recursive: true });
    // A CUDA prebuild that cannot match: no CUDA libtorch is visible with LOCALLEAP_PYTHON=none.
    await writeFile(path.join(root, "prebuilds", `${process.platform}-${process.arch}`, "localleap-cuda99.0-torch9.9.napi.node"), "");
    await writeFile(
        path.join(root, "fake-addon.js"),
        "module.exports = { buildInfo: () => ({ variant: 'cpu', torchVersion: '1.13.1', cudaVersion: '', cudaAvailable: false, cudaDeviceCount: 0, cudaDeviceName: '', defaultThreads: 2 }), loadModel: async () => { throw new Error('unused'); } };\n",
    );
    process.env.LOCALLEAP_PYTHON = "none";
    process.env.LOCALLEAP_LIBTORCH = path.join(root, "no-libtorch-here");
});
afterAll(async () => {
    delete process.env.LOCALLEAP_BINARY;
    delete process.env.LOCALLEAP_PYTHON;
    delete process.env.LOCALLEAP_LIBTORCH;
    await rm(root, { recursive: true, force: true });
});

describe("getAddon", () => {
    test("when nothing loads: NativeBindingError listing each candidate and why, and the fix", async () => {
        process.env.LOCALLEAP_BINARY = path.join(root, "missing.node");
        const error = await getAddon().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(NativeBindingError);
        const e = error as NativeBindingError;
        expect(e.code).toBe("NATIVE_BINDING_UNAVAILABLE");
        expect(e.attempts[0]).toMatchObject({ path: path.join(root, "missing.node"), origin: "env", outcome: "failed", reason: "file not found" });
        expect(e.attempts[1]).toMatchObject({ origin: "prebuild", outcome: "skipped" });
        expect(e.attempts[1]?.reason).toMatch(/needs libtorch 9.9 built for CUDA 99.x/);
        expect(e.message).toContain("LOCALLEAP_LIBTORCH=");
        expect(e.message).toContain("holds no lib/libtorch.so");
        expect(e.hint).toContain("npx localleap build");
        const info = await getBuildInfo();
        expect(info.build).toBeNull();
        expect(info.error).toBeInstanceOf(NativeBindingError);
    });

    test("LOCALLEAP_BINARY is test-loaded in a child, then loaded here, once per process", async () => {
        process.env.LOCALLEAP_BINARY = path.join(root, "fake-addon.js");
        const loaded = await getAddon({ device: "cpu" });
        expect(loaded.binaryPath).toBe(path.join(root, "fake-addon.js"));
        expect(loaded.variantName).toBe("cpu-torch1.13");
        expect(loaded.buildInfo.defaultThreads).toBe(2);
        expect(loaded.attempts[0]).toMatchObject({ origin: "env", outcome: "loaded" });
        expect(await getAddon()).toBe(loaded);
        const info = await getBuildInfo();
        expect(info.build).toMatchObject({ binaryPath: path.join(root, "fake-addon.js"), variant: "cpu" });
        expect(info.error).toBeNull();
    });
});

describe("resolveDevice", () => {
    const cpuBuild = { variant: "cpu" as const, torchVersion: "1.13.1", cudaVersion: "", cudaAvailable: false, cudaDeviceCount: 0, cudaDeviceName: "", defaultThreads: 2, sourceHash: "" };
    test("device cuda on a CPU build lists the CUDA binaries passed over", () => {
        const loaded = {
            buildInfo: cpuBuild,
            binaryPath: "/p/localleap-cpu-torch1.13.napi.node",
            variantName: "cpu-torch1.13",
            attempts: [{ path: "/p/localleap-cuda13.0-torch2.11.napi.node", origin: "prebuild" as const, libtorchDir: null, outcome: "skipped" as const, reason: "needs libtorch 2.11" }],
        };
        expect(() => resolveDevice("cuda", loaded)).toThrow(/CUDA binaries passed over: .*cuda13.0-torch2.11.*needs libtorch 2.11/);
        expect(resolveDevice("auto", loaded)).toBe("cpu");
        expect(resolveDevice("cpu", loaded)).toBe("cpu");
    });

    test("device cuda with no visible GPU mentions CUDA_VISIBLE_DEVICES", () => {
        const loaded = { buildInfo: { ...cpuBuild, variant: "cuda" as const, cudaVersion: "13.0" }, binaryPath: "/b", variantName: "cuda13.0-torch2.11", attempts: [] };
        expect(() => resolveDevice("cuda", loaded, { CUDA_VISIBLE_DEVICES: "" })).toThrow(/sees no CUDA device \(CUDA_VISIBLE_DEVICES=""\)/);
        expect(resolveDevice("cuda", { ...loaded, buildInfo: { ...loaded.buildInfo, cudaAvailable: true, cudaDeviceCount: 2 } })).toBe("cuda");
        expect(() => resolveDevice("cuda:0", loaded, {})).toThrow(/device 'cuda:0': .*sees no CUDA device/);
    });

    test("cuda:N picks GPU N of those visible; an index past them says how many there are", () => {
        const twoGpus = { buildInfo: { ...cpuBuild, variant: "cuda" as const, cudaVersion: "13.0", cudaAvailable: true, cudaDeviceCount: 2 }, binaryPath: "/b", variantName: "cuda13.0-torch2.11", attempts: [] };
        expect(resolveDevice("cuda:0", twoGpus)).toBe("cuda:0");
        expect(resolveDevice("cuda:1", twoGpus)).toBe("cuda:1");
        let error: unknown;
        try {
            resolveDevice("cuda:2", twoGpus, { CUDA_VISIBLE_DEVICES: "3,5" });
        } catch (e) {
            error = e;
        }
        expect(error).toMatchObject({ code: "CUDA_UNAVAILABLE", message: expect.stringContaining("sees 2 CUDA devices (cuda:0 to cuda:1), so there is no GPU 2 (CUDA_VISIBLE_DEVICES=\"3,5\")") });
        const oneGpu = { ...twoGpus, buildInfo: { ...twoGpus.buildInfo, cudaDeviceCount: 1 } };
        expect(() => resolveDevice("cuda:1", oneGpu, {})).toThrow(/sees 1 CUDA device \(cuda:0\), so there is no GPU 1/);
        expect(() => resolveDevice("cuda:1", { ...twoGpus, buildInfo: cpuBuild }, {})).toThrow(/device 'cuda:1' needs a CUDA build/);
    });
});
