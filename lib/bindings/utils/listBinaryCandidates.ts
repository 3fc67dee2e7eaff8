import path from "node:path";
import type { LibtorchLocation } from "../../errors";
import type { DeviceOption } from "../../types";
import { compareVersions } from "./compareVersions";
import { describeLibtorch } from "./describeLibtorch";
import { parseBinaryName, type ParsedBinaryName } from "./parseBinaryName";
import { versionPrefix } from "./versionPrefix";

/** One way to load a candidate: the libtorch to preload first (null: the loader's own search path). */
export interface LoadAttemptPlan {
    libtorch: LibtorchLocation | null;
    /** Preload libc10_cuda / libtorch_cuda too. */
    withCuda: boolean;
}

/** A native binary to try, with the ways to load it in order. */
export interface BinaryCandidate {
    path: string;
    origin: "env" | "prebuild" | "source";
    /** What its name says; null for LOCALLEAP_BINARY with another name and for the source build. */
    parsed: ParsedBinaryName | null;
    plans: LoadAttemptPlan[];
    /** Why it is not worth trying ("" when it is). */
    skipReason: string;
}

export interface CandidateSources {
    /** LOCALLEAP_BINARY, when set. */
    envBinary?: string;
    /** prebuilds/<platform>-<arch> and the file names in it. */
    prebuildDir: string;
    prebuildFiles: readonly string[];
    /** build/Release/localleap.node when it exists. */
    sourceBuild: string | null;
    libtorch: readonly LibtorchLocation[];
    device: DeviceOption;
    libc: "glibc" | "musl" | null;
}

/**
 * Orders the binaries to try: LOCALLEAP_BINARY, then the source build (a binary built on this
 * machine, by `localleap build` or in a checkout, wins over the shipped ones, as with
 * node-gyp-build), then the prebuilds (CUDA variants first unless device is 'cpu'; newest torch,
 * then newest CUDA, first; CUDA variants without a matching CUDA libtorch skipped). Pure: the
 * caller lists the folders.
 */
export function listBinaryCandidates(sources: CandidateSources): BinaryCandidate[] {
    const candidates: BinaryCandidate[] = [];
    if (sources.envBinary) {
        const parsed = parseBinaryName(path.basename(sources.envBinary));
        candidates.push({ path: path.resolve(sources.envBinary), origin: "env", parsed, plans: explicitPlans(parsed, sources.libtorch), skipReason: "" });
    }

    if (sources.sourceBuild !== null) {
        candidates.push({ path: sources.sourceBuild, origin: "source", parsed: null, plans: explicitPlans(null, sources.libtorch), skipReason: "" });
    }

    const prebuilds = sources.prebuildFiles
        .map((file) => parseBinaryName(file))
        .filter((parsed): parsed is ParsedBinaryName => parsed !== null)
        .map((parsed): BinaryCandidate => {
            const candidate: BinaryCandidate = {
                path: path.join(sources.prebuildDir, parsed.fileName),
                origin: "prebuild",
                parsed,
                plans: prebuildPlans(parsed, sources.libtorch),
                skipReason: "",
            };
            const libcTag = parsed.tags.find((tag) => tag === "glibc" || tag === "musl");
            if (libcTag !== undefined && sources.libc !== null && libcTag !== sources.libc) {
                candidate.skipReason = `built for ${libcTag}, this system uses ${sources.libc}`;
            } else if (candidate.plans.length === 0) {
                candidate.skipReason =
                    `needs libtorch ${parsed.torchVersion} built for CUDA ${versionPrefix(parsed.cudaVersion, 1)}.x; found ` +
                    (sources.libtorch.length > 0 ? sources.libtorch.map(describeLibtorch).join("; ") : "no libtorch");
            }
            return candidate;
        });
    const preferCuda = sources.device !== "cpu";
    const group = (c: BinaryCandidate) => (c.skipReason !== "" ? 2 : (c.parsed?.variant === "cuda") === preferCuda ? 0 : 1);
    prebuilds.sort(
        (a, b) =>
            group(a) - group(b) ||
            compareVersions(b.parsed?.torchVersion ?? "", a.parsed?.torchVersion ?? "") ||
            compareVersions(b.parsed?.cudaVersion ?? "", a.parsed?.cudaVersion ?? "") ||
            a.path.localeCompare(b.path),
    );
    candidates.push(...prebuilds);
    return candidates;
}

/** "yes" when major.minor agree, "unknown" when the location's version is not known. */
function torchMatch(location: LibtorchLocation, torchVersion: string): "yes" | "no" | "unknown" {
    if (location.version === "") return "unknown";
    return versionPrefix(location.version, 2) === versionPrefix(torchVersion, 2) ? "yes" : "no";
}

/** Matching libtorch first, unknown versions after; mismatched ones would fail on symbols anyway. */
function matching(locations: readonly LibtorchLocation[], torchVersion: string, accept: (l: LibtorchLocation) => boolean): LibtorchLocation[] {
    const usable = locations.filter((l) => accept(l) && torchMatch(l, torchVersion) !== "no");
    return [...usable.filter((l) => torchMatch(l, torchVersion) === "yes"), ...usable.filter((l) => torchMatch(l, torchVersion) === "unknown")];
}

function prebuildPlans(parsed: ParsedBinaryName, locations: readonly LibtorchLocation[]): LoadAttemptPlan[] {
    if (parsed.variant === "cuda") {
        const cudaMajor = versionPrefix(parsed.cudaVersion, 1);
        const accept = (l: LibtorchLocation) => l.hasCuda && (l.cudaVersion === "" || versionPrefix(l.cudaVersion, 1) === cudaMajor);
        return matching(locations, parsed.torchVersion, accept).map((libtorch) => ({ libtorch, withCuda: true }));
    }
    // A CPU variant usually links a system libtorch (Debian's libtorch-dev) the loader finds alone.
    return [{ libtorch: null, withCuda: false }, ...matching(locations, parsed.torchVersion, () => true).map((libtorch) => ({ libtorch, withCuda: false }))];
}

/** An explicit binary is always tried, first as it is, then with each libtorch that may fit. */
function explicitPlans(parsed: ParsedBinaryName | null, locations: readonly LibtorchLocation[]): LoadAttemptPlan[] {
    const fitting = parsed === null ? [...locations] : matching(locations, parsed.torchVersion, (l) => parsed.variant === "cpu" || l.hasCuda);
    return [{ libtorch: null, withCuda: false }, ...fitting.map((libtorch) => ({ libtorch, withCuda: libtorch.hasCuda && parsed?.variant !== "cpu" }))];
}
