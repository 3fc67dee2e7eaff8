import type { AddonBuildInfo } from "../AddonTypes";
import { TEST_LOAD_MARKER } from "./testLoadScript";

/** The buildInfo printed by the test-load helper, or null when there is none well-formed. */
export function parseTestLoadOutput(stdout: string): AddonBuildInfo | null {
    const line = stdout.split("\n").find((l) => l.startsWith(TEST_LOAD_MARKER));
    if (line === undefined) return null;
    try {
        const info = JSON.parse(line.slice(TEST_LOAD_MARKER.length)) as Partial<AddonBuildInfo> | null;
        if (info === null || typeof info !== "object") return null;
        if ((info.variant !== "cpu" && info.variant !== "cuda") || typeof info.torchVersion !== "string") return null;
        return {
            variant: info.variant,
            torchVersion: info.torchVersion,
            cudaVersion: typeof info.cudaVersion === "string" ? info.cudaVersion : "",
            cudaAvailable: info.cudaAvailable === true,
            cudaDeviceCount: typeof info.cudaDeviceCount === "number" ? info.cudaDeviceCount : 0,
            cudaDeviceName: typeof info.cudaDeviceName === "string" ? info.cudaDeviceName : "",
            defaultThreads: typeof info.defaultThreads === "number" ? info.defaultThreads : 0,
            sourceHash: typeof info.sourceHash === "string" ? info.sourceHash : "",
        };
    } catch {
        return null;
    }
}
