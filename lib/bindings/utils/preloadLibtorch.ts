import { libtorchDlopenFlags } from "./libtorchDlopenFlags";

/**
 * Loads libtorch's libraries into the process before the addon, so that the addon's
 * `libtorch.so` dependencies resolve to them (the loader matches already loaded sonames) even
 * when they live outside the library path, e.g. in a pip wheel's torch/lib.
 *
 * process.dlopen is the only dlopen Node offers. It expects an addon, so for a plain library it
 * throws "did not self-register" and dlcloses it; RTLD_NODELETE keeps the library loaded anyway,
 * and RTLD_GLOBAL makes its symbols visible to the addon loaded next. Paths must be in
 * dependency order (libtorchPreloadList). Throws on any other failure (missing file, bad ELF).
 */
export function preloadLibtorch(libraryPaths: readonly string[]): void {
    const flags = libtorchDlopenFlags();
    for (const libraryPath of libraryPaths) {
        try {
            process.dlopen({ exports: {} }, libraryPath, flags);
        } catch (error) {
            if (!/did not self-register/.test((error as Error).message)) throw error;
        }
    }
}
