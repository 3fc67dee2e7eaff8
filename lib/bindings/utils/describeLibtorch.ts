import type { LibtorchLocation } from "../../errors";

/** "libtorch 2.11.0+cu130 (CUDA 13.0) at /x/torch/lib, from python" */
export function describeLibtorch(location: LibtorchLocation): string {
    const version = location.version || "of unknown version";
    const cuda = location.hasCuda ? ` (CUDA${location.cudaVersion ? ` ${location.cudaVersion}` : ""})` : " (CPU only)";
    return `libtorch ${version}${cuda} at ${location.libDir}, from ${location.source}`;
}
