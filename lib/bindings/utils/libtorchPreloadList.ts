import path from "node:path";

/** Dependency order: each library only needs those before it. */
const PRELOAD_ORDER = ["libc10.so", "libtorch_cpu.so", "libc10_cuda.so", "libtorch_cuda.so", "libtorch.so"];
const CUDA_LIBS = new Set(["libc10_cuda.so", "libtorch_cuda.so"]);

/**
 * The libtorch libraries of `libDir` to preload, in order, given the file names it holds; the
 * CUDA ones only when `withCuda`.
 */
export function libtorchPreloadList(libDir: string, fileNames: readonly string[], withCuda: boolean): string[] {
    const present = new Set(fileNames);
    return PRELOAD_ORDER.filter((name) => present.has(name) && (withCuda || !CUDA_LIBS.has(name))).map((name) => path.join(libDir, name));
}
