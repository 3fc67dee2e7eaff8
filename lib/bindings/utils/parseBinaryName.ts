/** What a prebuilt binary's file name says about it. */
export interface ParsedBinaryName {
    fileName: string;
    /** "cuda13.0-torch2.11", "cpu-torch1.13". */
    variantName: string;
    variant: "cpu" | "cuda";
    /** CUDA toolkit "13.0"; "" for CPU variants. */
    cudaVersion: string;
    /** libtorch major.minor it links against, e.g. "2.11". */
    torchVersion: string;
    /** prebuildify tags after the variant (and "napi", when present), e.g. ["glibc"]. */
    tags: string[];
}

const BINARY_NAME = /^localleap-(cpu|cuda(\d+(?:\.\d+)*))-torch(\d+(?:\.\d+)*)(?:\.napi)?((?:\.[A-Za-z0-9_+-]+)*)\.node$/;

/**
 * Parses `localleap-<variant>[.napi].<tags...>.node` (variant `cpu-torch1.13`,
 * `cuda13.0-torch2.11`; prebuildify 6 with --napi and --name writes no "napi" tag); null for any
 * other name, which is then not a candidate.
 */
export function parseBinaryName(fileName: string): ParsedBinaryName | null {
    const match = BINARY_NAME.exec(fileName);
    if (match === null) return null;
    const [, kind = "", cudaVersion = "", torchVersion = "", tagText = ""] = match;
    return {
        fileName,
        variantName: `${kind}-torch${torchVersion}`,
        variant: kind === "cpu" ? "cpu" : "cuda",
        cudaVersion,
        torchVersion,
        tags: tagText.split(".").filter((tag) => tag !== ""),
    };
}
