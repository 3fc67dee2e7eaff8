import type { AddonBuildInfo } from "../bindings/AddonTypes";
import { type BindingAttempt, CudaUnavailableError } from "../errors";
import type { Device, DeviceOption } from "../types";

/**
 * The device to load on: 'auto' is CUDA when the binary is a CUDA build and libtorch sees a GPU;
 * 'cuda' throws CudaUnavailableError saying why not (CPU binary, with the reasons the CUDA
 * binaries were passed over, or no visible GPU) and what to do.
 */
export function resolveDevice(
    requested: DeviceOption,
    loaded: { buildInfo: AddonBuildInfo; binaryPath: string; variantName: string; attempts: readonly BindingAttempt[] },
    env: NodeJS.ProcessEnv = process.env,
): Device {
    const info = loaded.buildInfo;
    const gpuVisible = info.cudaAvailable && info.cudaDeviceCount > 0;
    if (requested === "cpu") return "cpu";
    if (requested === "auto") return info.variant === "cuda" && gpuVisible ? "cuda" : "cpu";
    if (info.variant !== "cuda") {
        const passedOver = loaded.attempts
            .filter((a) => a.outcome !== "loaded" && /cuda/i.test(a.path))
            .map((a) => `${a.path}: ${a.outcome}: ${a.reason}`);
        throw new CudaUnavailableError(
            `device 'cuda' needs a CUDA build of localleap, but the binary loaded is the CPU variant ${loaded.variantName} (${loaded.binaryPath})` +
                (passedOver.length > 0 ? `; CUDA binaries passed over: ${passedOver.join("; ")}` : "; no CUDA binary was found"),
            "install a CUDA libtorch that matches a prebuilt CUDA binary (e.g. `pip install torch` with CUDA) or set LOCALLEAP_LIBTORCH=/path/to/libtorch, " +
                "or build from source against a CUDA libtorch (`npx localleap build`); then run again in a new process (a process keeps the first binary it loads); or use device: 'cpu'",
        );
    }
    if (!gpuVisible) {
        const visible = env.CUDA_VISIBLE_DEVICES;
        throw new CudaUnavailableError(
            `device 'cuda': the CUDA build ${loaded.variantName} is loaded but libtorch sees no CUDA device` +
                (visible !== undefined ? ` (CUDA_VISIBLE_DEVICES=${JSON.stringify(visible)})` : ""),
            `check that nvidia-smi lists a GPU, that its driver supports CUDA ${info.cudaVersion || "of this build"}, and CUDA_VISIBLE_DEVICES; or use device: 'cpu'`,
        );
    }
    return "cuda";
}
