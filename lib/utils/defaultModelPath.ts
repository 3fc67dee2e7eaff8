import path from "node:path";
import { packageRoot } from "./packageRoot";

/** The embedded reference model: models/reference/model.pt, shipped in the npm package (exported by prepack; in a git checkout by `npm run setup`). */
export function defaultModelPath(): string {
    return path.join(packageRoot(), "models", "reference", "model.pt");
}

/** The embedded model's causal LM for strategy "apd": models/reference-ar/model.pt, shipped and exported like it. */
export function defaultArModelPath(): string {
    return path.join(packageRoot(), "models", "reference-ar", "model.pt");
}
