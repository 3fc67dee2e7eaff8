import { readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, test } from "@jest/globals";
import { nativeSourceHash } from "../../lib/bindings/utils/nativeSourceHash";
import { readBinarySourceHash } from "../../lib/bindings/utils/readBinarySourceHash";

const ROOT = path.join(__dirname, "..", "..");
const DIR = path.join(ROOT, "prebuilds", "linux-x64");

describe("committed prebuilt binaries", () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith(".node"));

    test("a CPU and a CUDA variant are committed", () => {
        expect(files).toEqual(expect.arrayContaining(["localleap-cpu-torch1.13.glibc.node", "localleap-cuda13.0-torch2.11.glibc.node"]));
    });

    test.each(files)("%s was built from the native sources in this tree", (file) => {
        // Rebuild with `npm run build:prebuild:cpu` (CPU) or tools/device/gpu-suite.sh (CUDA) after changing native/.
        expect(readBinarySourceHash(path.join(DIR, file))).toBe(nativeSourceHash(ROOT));
    });
});
