import { describe, expect, test } from "@jest/globals";
import { ModelLoadError, ModelMetadataError } from "../../lib/errors";
import { parseModelMetadata } from "../../lib/metadata";
import { validMetadata } from "./helpers/metadata";

function metadataError(json: string): ModelMetadataError {
    try {
        parseModelMetadata(json, "test.pt");
    } catch (error) {
        expect(error).toBeInstanceOf(ModelMetadataError);
        expect(error).toBeInstanceOf(ModelLoadError);
        expect((error as ModelMetadataError).code).toBe("MODEL_METADATA_INVALID");
        return error as ModelMetadataError;
    }
    throw new Error("expected a ModelMetadataError, nothing was thrown");
}

const withField = (overrides: Record<string, unknown>) => JSON.stringify(validMetadata(overrides));

describe("localleap.json", () => {
    test("a valid file parses, extra fields are kept", () => {
        const metadata = parseModelMetadata(withField({ future: 1 }), "test.pt");
        expect(metadata.vocabSize).toBe(320);
        expect(metadata.endIds).toEqual([301, 303]);
        expect((metadata as unknown as Record<string, unknown>).future).toBe(1);
        expect(parseModelMetadata(withField({ chatTemplate: null, addBos: false, bosToken: null }), "t").chatTemplate).toBeNull();
        // AdaBlock's optional fields.
        expect(parseModelMetadata(withField({ delimiterIds: [10], delimiterThreshold: 0.5 }), "t")).toMatchObject({ delimiterIds: [10], delimiterThreshold: 0.5 });
    });

    test("missing or unreadable file is named as localleap.json", () => {
        expect(metadataError("").field).toBe("localleap.json");
        expect(metadataError("").message).toContain("has no localleap.json");
        const notJson = metadataError("{nope");
        expect(notJson.field).toBe("localleap.json");
        expect(notJson.message).toContain("not valid JSON");
        expect(metadataError("[1]").field).toBe("localleap.json");
    });

    const broken: [field: string, overrides: Record<string, unknown>, says: RegExp][] = [
        ["format", { format: "other" }, /format is "other"; expected "localleap"/],
        ["formatVersion", { formatVersion: 3 }, /formatVersion is 3; expected 1 or 2/],
        ["kvCache", { formatVersion: 2 }, /formatVersion is 2 but kvCache is missing/],
        ["kvCache", { kvCache: { layers: 2, kvHeads: 4, headDim: 16 } }, /formatVersion is 1 but kvCache is set/],
        ["kvCache.headDim", { formatVersion: 2, kvCache: { layers: 2, kvHeads: 4, headDim: 0 } }, /kvCache.headDim is 0; expected an object/],
        ["kvCache", { formatVersion: 2, kvCache: { layers: 2, kvHeads: 4, headDim: 16, extra: 1 } }, /kvCache/],
        ["name", { name: 3 }, /name is 3/],
        ["architecture", { architecture: "gpt" }, /"llada" or "dream"/],
        ["vocabSize", { vocabSize: 0 }, /vocabSize is 0; expected an integer from 1 to 1073741824/],
        ["vocabSize", { vocabSize: 2 ** 31 }, /vocabSize is 2147483648; expected an integer from 1 to 1073741824/],
        ["vocabSize", { vocabSize: 1.5 }, /integer from 1/],
        ["maskId", { maskId: -1 }, /maskId is -1/],
        ["maskId", { maskId: 320 }, /maskId is 320, outside \[0, vocabSize = 320\)/],
        ["eosId", { eosId: 999 }, /eosId is 999, outside/],
        ["padId", { padId: 320 }, /padId is 320, outside/],
        ["endIds", { endIds: [] }, /array of 1 to 8 integers/],
        ["endIds", { endIds: [301, 0, 1, 2, 3, 4, 5, 6, 7] }, /array of 1 to 8 integers/],
        ["endIds", { endIds: "301" }, /array of 1 to 8 integers/],
        ["endIds.1", { endIds: [301, 500] }, /endIds\[1\] is 500, outside/],
        ["endIds", { endIds: [303] }, /does not contain eosId 301/],
        ["endIds", { endIds: [301, 302] }, /contains the mask id 302/],
        ["logitsShifted", { logitsShifted: "no" }, /true or false/],
        ["maxLength", { maxLength: 0 }, /maxLength is 0/],
        ["maxLength", { maxLength: 1 }, /maxLength is 1; expected an integer from 2 to 16777216/],
        ["maxLength", { maxLength: 2 ** 25 }, /maxLength is 33554432/],
        ["dtype", { dtype: "int8" }, /"float32", "bfloat16" or "float16"/],
        ["attention", { attention: "flash" }, /"manual" or "sdpa"/],
        ["config", { config: null }, /config is null; expected an object/],
        ["chatTemplate", { chatTemplate: 5 }, /a string or null/],
        ["addBos", { addBos: 1 }, /true or false/],
        ["bosToken", { addBos: true, bosToken: null }, /addBos is true but bosToken is null/],
        ["exporter", { exporter: "me" }, /exporter is "me"; expected an object/],
        ["delimiterIds", { delimiterIds: [] }, /array of 1 to 8 integers in \[0, vocabSize\), not maskId/],
        ["delimiterIds", { delimiterIds: [1, 2, 3, 4, 5, 6, 7, 8, 9] }, /array of 1 to 8 integers/],
        ["delimiterIds.0", { delimiterIds: [320] }, /delimiterIds\[0\] is 320, outside/],
        ["delimiterIds.1", { delimiterIds: [10, 302] }, /delimiterIds\[1\] is the mask id 302/],
        ["delimiterThreshold", { delimiterThreshold: 1.5 }, /delimiterThreshold is 1.5; expected a number in \[0, 1\]/],
    ];
    test.each(broken)("%s is named when broken (%p)", (field, overrides, says) => {
        const error = metadataError(withField(overrides));
        expect(error.field).toBe(field);
        expect(error.message).toMatch(says);
        expect(error.message).toContain("test.pt");
        expect(error.hint).toBeTruthy();
    });

    test("a missing field is reported as missing", () => {
        const metadata = validMetadata();
        delete metadata.maxLength;
        const error = metadataError(JSON.stringify(metadata));
        expect(error.field).toBe("maxLength");
        expect(error.message).toContain("maxLength is missing");
    });

    test("a newer formatVersion says to re-export or upgrade", () => {
        expect(metadataError(withField({ formatVersion: 3 })).hint).toMatch(/re-export/);
    });

    test("format v2 carries the KV-cache sizes; v1 has none", () => {
        const v2 = parseModelMetadata(withField({ formatVersion: 2, kvCache: { layers: 2, kvHeads: 4, headDim: 16 } }), "t");
        expect(v2.kvCache).toEqual({ layers: 2, kvHeads: 4, headDim: 16 });
        expect(parseModelMetadata(withField({}), "t").kvCache).toBeUndefined();
    });
});
