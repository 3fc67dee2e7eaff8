import path from "node:path";
import { packageRoot } from "./packageRoot";

/** The reference model shipped with the package (created by `npm run setup`): models/reference/model.pt. */
export function defaultModelPath(): string {
    return path.join(packageRoot(), "models", "reference", "model.pt");
}
