import { describe, expect, test } from "@jest/globals";
import type { NativeErrorCode } from "../../lib/bindings/AddonTypes";
import { mapAddonError } from "../../lib/bindings/utils/mapAddonError";
import { formatError } from "../../lib/cli/utils/formatError";
import * as api from "../../lib/index";
import {
    AbortError,
    CudaUnavailableError,
    InternalError,
    InvalidOptionsError,
    LocalleapError,
    ModelCorruptError,
    ModelDisposedError,
    ModelLoadError,
    ModelMethodMissingError,
    ModelNotFoundError,
    ModelProbeError,
    OutOfMemoryError,
    PromptTooLongError,
    AdaptiveBlockUnsupportedError,
} from "../../lib/errors";

const native = (code: string, message = `native says ${code}`) => Object.assign(new Error(message), { code });

describe("mapAddonError", () => {
    const table: [NativeErrorCode, new (...args: never[]) => LocalleapError, string][] = [
        ["INVALID_ARGUMENT", InvalidOptionsError, "INVALID_OPTIONS"],
        ["MODEL_NOT_FOUND", ModelNotFoundError, "MODEL_NOT_FOUND"],
        ["MODEL_CORRUPT", ModelCorruptError, "MODEL_CORRUPT"],
        ["MODEL_METHOD_MISSING", ModelMethodMissingError, "MODEL_METHOD_MISSING"],
        ["MODEL_PROBE_FAILED", ModelProbeError, "MODEL_PROBE_FAILED"],
        ["PROMPT_TOO_LONG", PromptTooLongError, "PROMPT_TOO_LONG"],
        ["ADAPTIVE_BLOCK_UNSUPPORTED", AdaptiveBlockUnsupportedError, "ADAPTIVE_BLOCK_UNSUPPORTED"],
        ["CUDA_UNAVAILABLE", CudaUnavailableError, "CUDA_UNAVAILABLE"],
        ["OUT_OF_MEMORY", OutOfMemoryError, "OUT_OF_MEMORY"],
        ["ABORTED", AbortError, "ABORTED"],
        ["MODEL_DISPOSED", ModelDisposedError, "MODEL_DISPOSED"],
        ["INTERNAL", InternalError, "INTERNAL"],
    ];
    test.each(table)("%s → %p", (code, type, publicCode) => {
        const mapped = mapAddonError(native(code), "generate");
        expect(mapped).toBeInstanceOf(type);
        expect(mapped).toBeInstanceOf(LocalleapError);
        expect(mapped.code).toBe(publicCode);
        expect(mapped.message).toContain(`native says ${code}`);
    });

    test("load errors are ModelLoadErrors", () => {
        for (const code of ["MODEL_NOT_FOUND", "MODEL_CORRUPT", "MODEL_METHOD_MISSING", "MODEL_PROBE_FAILED"]) {
            expect(mapAddonError(native(code), "load")).toBeInstanceOf(ModelLoadError);
        }
    });

    test("out-of-memory hints depend on the call", () => {
        expect(mapAddonError(native("OUT_OF_MEMORY"), "generate").hint).toMatch(/lower genLength/);
        expect(mapAddonError(native("OUT_OF_MEMORY"), "load").hint).toMatch(/does not fit/);
    });

    test("unknown codes, plain errors and non-errors become InternalError", () => {
        expect(mapAddonError(native("WHAT"), "load")).toBeInstanceOf(InternalError);
        expect(mapAddonError(new TypeError("boom"), "load").message).toContain("boom");
        expect(mapAddonError("text", "generate")).toBeInstanceOf(InternalError);
        const cause = new Error("x");
        expect(mapAddonError(cause, "generate").cause).toBe(cause);
    });

    test("LocalleapErrors pass through", () => {
        const error = new AbortError();
        expect(mapAddonError(error, "generate")).toBe(error);
    });
});

describe("error classes", () => {
    test("names and codes are stable", () => {
        const error = new ModelNotFoundError("gone");
        expect(error.name).toBe("ModelNotFoundError");
        expect(error.code).toBe("MODEL_NOT_FOUND");
        expect(error).toBeInstanceOf(Error);
        expect(new ModelDisposedError().hint).toMatch(/loadModel/);
    });

    test("PromptTooLongError says the limit and how much to cut", () => {
        const error = new PromptTooLongError({ promptTokens: 100, genLength: 64, maxLength: 128, blockLength: 16 });
        expect(error.message).toContain("prompt (100 tokens) + genLength (64) = 164 tokens, over this model's maxLength of 128 by 36");
        expect(error.hint).toContain("cut the prompt by at least 36 tokens");
        expect(error.hint).toContain("lower genLength to 16 or less");
        expect(error.excess).toBe(36);
        const noRoom = new PromptTooLongError({ promptTokens: 130, genLength: 32, maxLength: 128, blockLength: 32 });
        expect(noRoom.hint).toBe("cut the prompt by at least 34 tokens");
    });

    test("every error class is exported from the package entry", () => {
        for (const name of [
            "LocalleapError", "InvalidOptionsError", "InvalidInputError", "PromptTooLongError", "ModelLoadError", "ModelNotFoundError",
            "ModelCorruptError", "ModelMetadataError", "ModelMethodMissingError", "ModelProbeError", "TokenizerError", "NativeBindingError",
            "CudaUnavailableError", "OutOfMemoryError", "AbortError", "ModelDisposedError", "InternalError",
        ]) {
            expect(typeof (api as Record<string, unknown>)[name]).toBe("function");
        }
        expect(typeof api.loadModel).toBe("function");
        expect(typeof api.Model).toBe("function");
    });
});

describe("CLI error output", () => {
    test("localleap errors print code, message and hint, never a stack", () => {
        const text = formatError(new ModelNotFoundError("no model file at /x"));
        expect(text).toMatch(/^error \[MODEL_NOT_FOUND\]: no model file at \/x\nhint: /);
        expect(text).not.toContain("    at ");
    });

    test("other errors print their message; the stack only with LOCALLEAP_DEBUG=1", () => {
        expect(formatError(new Error("oops"), {})).toBe("error: oops");
        expect(formatError(new Error("oops"), { LOCALLEAP_DEBUG: "1" })).toContain("    at ");
        expect(formatError(7, {})).toBe("error: 7");
    });
});
