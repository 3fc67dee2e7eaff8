#!/usr/bin/env node
import { Command } from "commander";
import { packageVersion } from "../utils/packageVersion";
import { buildCommand } from "./commands/build";
import { calibrateCommand } from "./commands/calibrate";
import { chatCommand } from "./commands/chat";
import { generateCommand } from "./commands/generate";
import { infoCommand } from "./commands/info";
import { formatError } from "./utils/formatError";

const program = new Command("localleap")
    .description("run diffusion language models (LLaDA, Dream) with LocalLeap parallel decoding")
    .version(packageVersion())
    .addCommand(generateCommand())
    .addCommand(chatCommand())
    .addCommand(infoCommand())
    .addCommand(calibrateCommand())
    .addCommand(buildCommand());

program.parseAsync(process.argv).catch((error: unknown) => {
    process.stderr.write(`${formatError(error)}\n`);
    process.exitCode = 1;
});
