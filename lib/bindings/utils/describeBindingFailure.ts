import type { BindingAttempt, LibtorchLocation } from "../../errors";
import { describeLibtorch } from "./describeLibtorch";

/** The commands that provide a libtorch a prebuilt binary loads with (README "Install in your project"). */
export const LIBTORCH_INSTALL =
    "for the CPU binary, Debian 12 / Ubuntu: `sudo apt install libtorch1.13 libopenblas0-pthread`; " +
    "for the CUDA binary (H100/H200): `pip install torch==2.11.* --index-url https://download.pytorch.org/whl/cu130` (localleap finds python3's torch, or set LOCALLEAP_LIBTORCH=/path/to/torch)";

/** The message and hint of a NativeBindingError: every candidate and why, libtorch found, the fix. */
export function describeBindingFailure(details: {
    platform: string;
    attempts: readonly BindingAttempt[];
    libtorch: readonly LibtorchLocation[];
    notes: readonly string[];
    /** torch versions the prebuilt binaries want, e.g. ["2.11 (CUDA 13.0)", "1.13"]. */
    wanted: readonly string[];
}): { message: string; hint: string } {
    const lines = [`no localleap native binary could be loaded on ${details.platform}.`, "Binaries tried:"];
    if (details.attempts.length === 0) lines.push("  (none: no LOCALLEAP_BINARY, no prebuilt binary for this platform, no build/Release/localleap.node)");
    for (const a of details.attempts) {
        const how = a.libtorchDir === null ? "" : ` with libtorch from ${a.libtorchDir}`;
        lines.push(`  - ${a.path}${how}: ${a.outcome}: ${a.reason}`);
    }
    lines.push("libtorch found:");
    if (details.libtorch.length === 0) lines.push("  (none)");
    for (const l of details.libtorch) lines.push(`  - ${describeLibtorch(l)}`);
    for (const n of details.notes) lines.push(`  note: ${n}`);

    const fixes: string[] = [];
    if (details.libtorch.length === 0) {
        fixes.push(`install libtorch: ${LIBTORCH_INSTALL}`);
    } else if (details.wanted.length > 0) {
        fixes.push(`the prebuilt binaries need libtorch ${details.wanted.join(" or ")}: ${LIBTORCH_INSTALL}`);
    }
    fixes.push("or build from source against the libtorch you have: `npx localleap build` (needs libtorch's headers, g++ and cmake)");
    fixes.push("or point LOCALLEAP_BINARY at a localleap .node file that matches your libtorch");
    return { message: lines.join("\n"), hint: fixes.join("; ") };
}
