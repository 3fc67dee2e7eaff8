import { access } from "node:fs/promises";
import { Command } from "commander";
import { getBuildInfo } from "../../bindings/getAddon";
import { loadModel } from "../../loadModel";
import type { DeviceOption } from "../../types";
import { defaultModelPath } from "../../utils/defaultModelPath";
import { packageVersion } from "../../utils/packageVersion";
import { formatBuildInfo } from "../utils/formatBuildInfo";
import { errorJson, withJsonErrors } from "../utils/errorJson";
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
        .option("--device <device>", "cpu, cuda (GPU 0), cuda:N (GPU N) or auto (default auto)")
        .option("--json", "print JSON")
        .action((flags: InfoFlags) => withJsonErrors(flags.json, false, () => runInfo(flags)));
}

async function runInfo(flags: InfoFlags): Promise<void> {
    const device = flags.device as DeviceOption | undefined;
    const build = await getBuildInfo(device === undefined ? {} : { device });
    const defaultPath = defaultModelPath();
    const defaultExists = await access(defaultPath).then(() => true, () => false);
    const modelPath = flags.model ?? (defaultExists ? defaultPath : undefined);
    const header = `localleap ${packageVersion()} (node ${process.version}, ${process.platform}-${process.arch})`;
    const defaultLine = `default model: ${defaultPath} (${defaultExists ? "present" : "missing: the package ships it; in a git checkout run `npm run setup`"})`;

    let model;
    try {
        if (build.build !== null && modelPath !== undefined) {
            model = await loadModel({ modelPath, ...(device !== undefined && { device }) });
        }
        if (flags.json) {
            const { error, ...rest } = build;
            const json = { version: packageVersion(), ...rest, error: error && errorJson(error).error, defaultModel: { path: defaultPath, exists: defaultExists }, model: model?.info ?? null };
            process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
        } else {
            process.stdout.write(`${header}\n${formatBuildInfo(build)}\n${defaultLine}\n${model ? `${formatModelInfo(model.info)}\n` : ""}`);
        }
        // Nothing loads: still a failure for scripts, after the diagnostics above.
        if (build.error !== null) {
            if (flags.json) process.exitCode = 1; // the document above already holds the error
            else throw build.error;
        }
    } finally {
        await model?.dispose().catch(() => undefined);
    }
}
