import path from "node:path";
import { rewriteArchiveMetadata } from "../archive/rewriteMetadata";
import { InvalidOptionsError } from "../errors";
import { type DecodingDefaults, type ModelMetadata } from "../metadata";
import { loadModel } from "../loadModel";
import type { DeviceOption } from "../types";

/** Options of {@link writeDecodingDefaults}. */
export interface WriteDecodingDefaultsOptions {
    /** The archive to write; must differ from the source unless inPlace is true. */
    out?: string;
    /** Replace the source archive itself (atomically: a temporary copy is renamed over it). */
    inPlace?: boolean;
    /**
     * Load the new archive with loadModel (the engine's archive checks and probe) before it is
     * renamed into place. Default true; pass false to check only the zip and the metadata.
     */
    verifyLoad?: boolean;
    /** Device of that load (default "cpu"). */
    device?: DeviceOption;
}

/**
 * Writes `defaults` as the `decodingDefaults` of a copy of the model archive `source`: only the
 * archive's localleap.json changes (docs/model-format.md), written to a temporary file next to
 * the destination, read back, loaded, then renamed into place. Resolves to the destination's
 * path and metadata. Rejects with InvalidOptionsError (no destination, or the source without
 * inPlace), ModelNotFoundError, ModelCorruptError, ModelMetadataError (the defaults are out of
 * range), ArchiveWriteError, or what loadModel rejects with.
 */
export async function writeDecodingDefaults(
    source: string,
    defaults: DecodingDefaults,
    options: WriteDecodingDefaultsOptions = {},
): Promise<{ path: string; metadata: ModelMetadata }> {
    const src = path.resolve(source);
    const dest = options.inPlace ? src : options.out === undefined ? undefined : path.resolve(options.out);
    if (dest === undefined) {
        throw new InvalidOptionsError("write options", [{ field: "out", given: "nothing", allowed: "a path, or inPlace: true", message: "out: give the archive to write (--out FILE), or inPlace: true (--in-place) to replace the source" }]);
    }
    if (dest === src && !options.inPlace) {
        throw new InvalidOptionsError("write options", [{ field: "out", given: JSON.stringify(options.out), allowed: "a path other than the source", message: `out is the source archive ${src}: pass inPlace: true (--in-place) to replace it` }]);
    }
    if (options.inPlace && options.out !== undefined && path.resolve(options.out) !== src) {
        throw new InvalidOptionsError("write options", [{ field: "inPlace", given: "true", allowed: "inPlace or out, not both", message: "inPlace and out contradict each other: drop one" }]);
    }
    const verify = options.verifyLoad === false
        ? undefined
        : async (temp: string) => {
              const model = await loadModel({ modelPath: temp, device: options.device ?? "cpu" });
              await model.dispose();
          };
    const metadata = await rewriteArchiveMetadata(src, dest, (raw) => ({ ...raw, decodingDefaults: defaults }), verify === undefined ? {} : { verify });
    return { path: dest, metadata };
}
