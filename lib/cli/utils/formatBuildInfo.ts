import type { BuildInfo } from "../../bindings/getAddon";
import { describeLibtorch } from "../../bindings/utils/describeLibtorch";

/** The text `localleap info` prints about the native side. */
export function formatBuildInfo(info: BuildInfo): string {
    const lines: string[] = [];
    const b = info.build;
    if (b === null) {
        lines.push("binary: none loads");
    } else {
        lines.push(`binary: ${b.binaryPath} (${b.variantName})`);
        lines.push(`  torch ${b.torchVersion}${b.cudaVersion ? `, CUDA ${b.cudaVersion}` : ""}, default threads ${b.defaultThreads}`);
        lines.push(
            b.cudaAvailable
                ? `  CUDA available: ${b.cudaDeviceCount} device${b.cudaDeviceCount === 1 ? "" : "s"}${b.cudaDeviceName ? ` (${b.cudaDeviceName})` : ""}`
                : "  CUDA available: no",
        );
    }
    lines.push(`libtorch used: ${info.libtorchUsed ? describeLibtorch(info.libtorchUsed) : "the loader's own (system or RPATH)"}`);
    lines.push("libtorch found:");
    if (info.libtorchFound.length === 0) lines.push("  (none)");
    for (const l of info.libtorchFound) lines.push(`  - ${describeLibtorch(l)}`);
    for (const note of info.libtorchNotes) lines.push(`  note: ${note}`);
    lines.push("binaries tried:");
    if (info.attempts.length === 0) lines.push("  (none)");
    for (const a of info.attempts) {
        lines.push(`  - ${a.path}${a.libtorchDir ? ` with ${a.libtorchDir}` : ""}: ${a.outcome}${a.reason ? `: ${a.reason}` : ""}`);
    }
    return lines.join("\n");
}
