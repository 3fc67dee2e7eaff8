import { readFileSync } from "node:fs";
import path from "node:path";
import { packageRoot } from "./packageRoot";

/** The version in localleap's package.json ("" when unreadable). */
export function packageVersion(): string {
    try {
        const manifest = JSON.parse(readFileSync(path.join(packageRoot(), "package.json"), "utf8")) as { version?: unknown };
        return typeof manifest.version === "string" ? manifest.version : "";
    } catch {
        return "";
    }
}
