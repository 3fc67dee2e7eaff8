import type { AddonBuildInfo, AddonDeviceRequest } from "../bindings/AddonTypes";
import { type BindingAttempt, CudaUnavailableError } from "../errors";
import type { DeviceOption } from "../types";

/**
 * The device to load on: 'auto' is CUDA (GPU 0) when the binary is a CUDA build and libtorch sees
 * a GPU; 'cuda' (GPU 0) and 'cuda:N' throw CudaUnavailableError saying why not (CPU binary, with
 * the reasons the CUDA binaries were passed over, no visible GPU, or fewer GPUs than N + 1) and
 * what to do.
 */
export function resolveDevice(
    requested: DeviceOption,
    loaded: { buildInfo: AddonBuildInfo; binaryPath: string; variantName: string; attempts: readonly BindingAttempt[] },
    env: NodeJS.ProcessEnv = process.env,
): AddonDeviceRequest {
    const info = loaded.buildInfo;
    const gpuVisible = info.cudaAvailable && info.cudaDeviceCount > 0;
    if (requested === "cpu") return "cpu";
    if (requested === "auto") return info.variant === "cuda" && gpuVisible ? "cuda" : "cpu";
    if (info.variant !== "cuda") {
        const passedOver = loaded.attempts
            .filter((a) => a.outcome !== "loaded" && /cuda/i.test(a.path))
            .map((a) => `${a.path}: ${a.outcome}: ${a.reason}`);
        throw new CudaUnavailableError(
            `device '${requested}' needs a CUDA build of localleap, but the binary loaded is the CPU variant ${loaded.variantName} (${loaded.binaryPath})` +
                (passedOver.length > 0 ? `; CUDA binaries passed over: ${passedOver.join("; ")}` : "; no CUDA binary was found"),
            "install a CUDA libtorch that matches a prebuilt CUDA binary (e.g. `pip install torch` with CUDA) or set LOCALLEAP_LIBTORCH=/path/to/libtorch, " +
                "or build from source against a CUDA libtorch (`npx localleap build`); then run again in a new process (a process keeps the first binary it loads); or use device: 'cpu'",
        );
    }
    if (!gpuVisible) {
        const visible = env.CUDA_VISIBLE_DEVICES;
        throw new CudaUnavailableError(
            `device '${requested}': the CUDA build ${loaded.variantName} is loaded but libtorch sees no CUDA device` +
                (visible !== undefined ? ` (CUDA_VISIBLE_DEVICES=${JSON.stringify(visible)})` : ""),
            `check that nvidia-smi lists a GPU, that its driver supports CUDA ${info.cudaVersion || "of this build"}, and CUDA_VISIBLE_DEVICES; or use device: 'cpu'`,
        );
    }
    if (requested === "cuda") return "cuda";
    const index = Number(requested.slice("cuda:".length));
    if (index >= info.cudaDeviceCount) {
        const count = info.cudaDeviceCount;
        throw new CudaUnavailableError(
            `device '${requested}': libtorch sees ${count} CUDA device${count === 1 ? "" : "s"} (${count === 1 ? "cuda:0" : `cuda:0 to cuda:${count - 1}`}), so there is no GPU ${index}` +
                (env.CUDA_VISIBLE_DEVICES !== undefined ? ` (CUDA_VISIBLE_DEVICES=${JSON.stringify(env.CUDA_VISIBLE_DEVICES)})` : ""),
            `use an index below ${count}; indices count the GPUs the process sees (CUDA_VISIBLE_DEVICES renumbers them from 0)`,
        );
    }
    return requested as AddonDeviceRequest;
}
