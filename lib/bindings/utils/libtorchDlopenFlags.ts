import os from "node:os";

/**
 * RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE. Node does not export RTLD_NODELETE: its value is 0x1000
 * on Linux (glibc and musl) and 0x80 on macOS.
 */
export function libtorchDlopenFlags(): number {
    const { RTLD_NOW = 2, RTLD_GLOBAL = 0x100 } = os.constants.dlopen as { RTLD_NOW?: number; RTLD_GLOBAL?: number };
    const RTLD_NODELETE = process.platform === "darwin" ? 0x80 : 0x1000;
    return RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE;
}
