import { access, readdir } from "node:fs/promises";
import path from "node:path";
import { type BindingAttempt, type LibtorchLocation, NativeBindingError } from "../errors";
import type { DeviceOption } from "../types";
import { packageRoot } from "../utils/packageRoot";
import type { Addon, AddonBuildInfo } from "./AddonTypes";
import { describeBindingFailure } from "./utils/describeBindingFailure";
import { detectLibc } from "./utils/detectLibc";
import { findLibtorch } from "./utils/findLibtorch";
import { libtorchPreloadList } from "./utils/libtorchPreloadList";
import { listBinaryCandidates } from "./utils/listBinaryCandidates";
import { preloadLibtorch } from "./utils/preloadLibtorch";
import { testLoadBinary } from "./utils/testLoadBinary";

/** The addon this process loaded, with where it came from. */
export interface LoadedAddon {
    /** The native module. */
    addon: Addon;
    /** What the binary was built with and sees now. */
    buildInfo: AddonBuildInfo;
    /** The .node file loaded. */
    binaryPath: string;
    /** "cuda13.0-torch2.11" from the file name, or built from buildInfo for other names. */
    variantName: string;
    /** The libtorch preloaded for it; null when the loader found libtorch alone. */
    libtorch: LibtorchLocation | null;
    /** Every candidate considered before it, and this one. */
    attempts: BindingAttempt[];
    /** Every libtorch found on this machine. */
    libtorchFound: LibtorchLocation[];
    /** Places searched that had no libtorch, and why (e.g. "python3 has no usable torch"). */
    libtorchNotes: string[];
}

let loading: Promise<LoadedAddon> | undefined;

/**
 * Loads the native addon once per process (a process can hold one libtorch): LOCALLEAP_BINARY,
 * then build/Release/localleap.node (a source build), then prebuilds/<platform>-<arch>/ (CUDA
 * variants first unless device is 'cpu'). Each candidate is test-loaded in a child process first.
 * Rejects with NativeBindingError saying what was tried and how to fix it.
 */
export function getAddon(options: { device?: DeviceOption } = {}): Promise<LoadedAddon> {
    loading ??= loadAddon(options.device ?? "auto").catch((error: unknown) => {
        loading = undefined; // let a later call retry, e.g. after the user built the addon
        throw error;
    });
    return loading;
}

async function loadAddon(device: DeviceOption): Promise<LoadedAddon> {
    const root = packageRoot();
    const platform = `${process.platform}-${process.arch}`;
    const prebuildDir = path.join(root, "prebuilds", platform);
    const sourceBuild = path.join(root, "build", "Release", "localleap.node");
    const search = await findLibtorch();
    const candidates = listBinaryCandidates({
        ...(process.env.LOCALLEAP_BINARY ? { envBinary: process.env.LOCALLEAP_BINARY } : {}),
        prebuildDir,
        prebuildFiles: await readdir(prebuildDir).catch(() => []),
        sourceBuild: (await exists(sourceBuild)) ? sourceBuild : null,
        libtorch: search.locations,
        device,
        libc: detectLibc(),
    });

    const attempts: BindingAttempt[] = [];
    for (const candidate of candidates) {
        const attempt = (libtorch: LibtorchLocation | null, outcome: BindingAttempt["outcome"], reason: string) =>
            attempts.push({ path: candidate.path, origin: candidate.origin, libtorchDir: libtorch?.libDir ?? null, outcome, reason });
        if (candidate.skipReason !== "") {
            attempt(null, "skipped", candidate.skipReason);
            continue;
        }
        if (!(await exists(candidate.path))) {
            attempt(null, "failed", "file not found");
            continue;
        }
        for (const plan of candidate.plans) {
            const libraries = plan.libtorch === null ? [] : libtorchPreloadList(plan.libtorch.libDir, plan.libtorch.libraries, plan.withCuda);
            const verdict = await testLoadBinary(candidate.path, libraries);
            if (!verdict.ok) {
                attempt(plan.libtorch, "failed", verdict.reason);
                continue;
            }
            try {
                preloadLibtorch(libraries);
                const addon = require(candidate.path) as Addon;
                const buildInfo = addon.buildInfo();
                attempt(plan.libtorch, "loaded", "");
                return {
                    addon,
                    buildInfo,
                    binaryPath: candidate.path,
                    variantName: candidate.parsed?.variantName ?? variantNameOf(buildInfo),
                    libtorch: plan.libtorch,
                    attempts,
                    libtorchFound: search.locations,
                    libtorchNotes: search.notes,
                };
            } catch (error) {
                attempt(plan.libtorch, "failed", `loaded in a test process but not in this one: ${(error as Error).message}`);
            }
        }
    }

    const wanted = [...new Set(candidates.flatMap(({ parsed: p }) =>
        p === null ? [] : [p.variant === "cuda" ? `${p.torchVersion} (CUDA ${p.cudaVersion})` : p.torchVersion]))];
    const { message, hint } = describeBindingFailure({ platform, attempts, libtorch: search.locations, notes: search.notes, wanted });
    throw new NativeBindingError(message, { attempts, libtorch: search.locations, notes: search.notes, hint });
}

/** "cuda12.8-torch2.7" / "cpu-torch1.13" from what the binary reports. */
function variantNameOf(info: AddonBuildInfo): string {
    const torch = info.torchVersion.split(".").slice(0, 2).join(".");
    return info.variant === "cuda" ? `cuda${info.cudaVersion}-torch${torch}` : `cpu-torch${torch}`;
}

function exists(file: string): Promise<boolean> {
    return access(file).then(() => true, () => false);
}

/** What `localleap info` shows: the loaded binary and its build, or the failure, plus libtorch found. */
export interface BuildInfo {
    /** Build info of the loaded binary; null when none loads (see `error`). */
    build: (AddonBuildInfo & { binaryPath: string; variantName: string }) | null;
    /** The libtorch preloaded for the binary, null when none was needed or nothing loaded. */
    libtorchUsed: LibtorchLocation | null;
    /** Every libtorch found on this machine. */
    libtorchFound: LibtorchLocation[];
    /** Places searched that had no libtorch, and why. */
    libtorchNotes: string[];
    /** Every binary considered, in order. */
    attempts: BindingAttempt[];
    /** Why no binary loads, when none does. */
    error: NativeBindingError | null;
}

/** Loads the addon (as loadModel would) and reports what was found; never rejects for a missing binary. */
export async function getBuildInfo(options: { device?: DeviceOption } = {}): Promise<BuildInfo> {
    try {
        const loaded = await getAddon(options);
        return {
            build: { ...loaded.buildInfo, binaryPath: loaded.binaryPath, variantName: loaded.variantName },
            libtorchUsed: loaded.libtorch,
            libtorchFound: loaded.libtorchFound,
            libtorchNotes: loaded.libtorchNotes,
            attempts: loaded.attempts,
            error: null,
        };
    } catch (error) {
        if (!(error instanceof NativeBindingError)) throw error;
        return { build: null, libtorchUsed: null, libtorchFound: error.libtorch, libtorchNotes: error.notes, attempts: error.attempts, error };
    }
}
