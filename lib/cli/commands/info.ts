import { access } from "node:fs/promises";
import { Command } from "commander";
import { getBuildInfo } from "../../bindings/getAddon";
import { loadModel } from "../../loadModel";
import type { DeviceOption } from "../../types";
import { defaultModelPath } from "../../utils/defaultModelPath";
import { packageVersion } from "../../utils/packageVersion";
import { formatBuildInfo } from "../utils/formatBuildInfo";
import { formatModelInfo } from "../utils/formatModelInfo";

interface InfoFlags {
    model?: string;
    device?: string;
    json?: boolean;
}

/** `localleap info`: the native build, libtorch found, and the model's metadata when there is one. */
export function infoCommand(): Command {
    return new Command("info")
        .description("show the native build, the libtorch found, and a model's metadata")
        .option("-m, --model <path>", "model.pt to describe (default: the reference model, when it exists)")
        .option("--device <device>", "cpu, cuda or auto (default auto)")
        .option("--json", "print JSON")
        .action(runInfo);
}

async function runInfo(flags: InfoFlags): Promise<void> {
    const device = flags.device as DeviceOption | undefined;
    const build = await getBuildInfo(device === undefined ? {} : { device });
    const modelPath = flags.model ?? (await access(defaultModelPath()).then(() => defaultModelPath(), () => undefined));
    const header = `localleap ${packageVersion()} (node ${process.version}, ${process.platform}-${process.arch})`;

    let model;
    try {
        if (build.build !== null && modelPath !== undefined) {
            model = await loadModel({ modelPath, ...(device !== undefined && { device }) });
        }
        if (flags.json) {
            const { error, ...rest } = build;
            const json = { version: packageVersion(), ...rest, error: error && { code: error.code, message: error.message, hint: error.hint }, model: model?.info ?? null };
            process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
        } else {
            process.stdout.write(`${header}\n${formatBuildInfo(build)}\n${model ? `${formatModelInfo(model.info)}\n` : ""}`);
        }
        // Nothing loads: still a failure for scripts, after the diagnostics above.
        if (build.error !== null) throw build.error;
    } finally {
        await model?.dispose().catch(() => undefined);
    }
}
