import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { InvalidInputError, TokenizerError } from "../../lib/errors";
import { compileChatTemplate } from "../../lib/tokenizer/renderChatTemplate";
import { TextTokenizer } from "../../lib/tokenizer/TextTokenizer";
import { byteLevelTokenizerJson, CHAT_TEMPLATE, SPECIAL, tokenizerConfig } from "./helpers/byteLevelTokenizer";

const fromJson = (config: Record<string, unknown> = tokenizerConfig()) =>
    TextTokenizer.fromJson(JSON.stringify(byteLevelTokenizerJson()), JSON.stringify(config), "test");

function tokenizerError(fn: () => unknown): TokenizerError {
    try {
        fn();
    } catch (error) {
        expect(error).toBeInstanceOf(TokenizerError);
        return error as TokenizerError;
    }
    throw new Error("expected a TokenizerError, nothing was thrown");
}

describe("TextTokenizer from JSON", () => {
    test("encodes with merges and special tokens, decodes without special tokens", () => {
        const tokenizer = fromJson();
        const ids = tokenizer.encode("hello world<|eot|>");
        // "hello" merges to one token, " w" too; <|eot|> is a special token.
        expect(ids).toEqual([259, 260, "o".charCodeAt(0), "r".charCodeAt(0), "l".charCodeAt(0), "d".charCodeAt(0), SPECIAL.eot]);
        expect(tokenizer.decode(ids)).toBe("hello world");
    });

    test("decodes an empty list and ids outside the tokenizer to nothing", () => {
        const tokenizer = fromJson();
        expect(tokenizer.decode([])).toBe("");
        expect(tokenizer.decode([SPECIAL.eos])).toBe("");
        expect(tokenizer.decode([259, 319, 9999])).toBe("hello");
    });

    test("round-trips non-ASCII text through bytes", () => {
        const tokenizer = fromJson();
        const ids = tokenizer.encode("héllo ✓");
        expect(ids.every((id) => id < 300)).toBe(true);
        expect(tokenizer.decode(ids)).toBe("héllo ✓");
    });

    test("looks up special tokens and config tokens", () => {
        const tokenizer = fromJson();
        expect(tokenizer.tokenToId("<|bos|>")).toBe(SPECIAL.bos);
        expect(tokenizer.tokenToId("<|nope|>")).toBeUndefined();
        expect(tokenizer.idToToken(SPECIAL.eos)).toBe("<|eos|>");
        expect(tokenizer.bosToken).toBe("<|bos|>");
        expect(tokenizer.eosToken).toBe("<|eos|>"); // given as an AddedToken object
        expect(tokenizer.chatTemplate).toBe(CHAT_TEMPLATE);
    });

    test("chat_template as a list picks the default one", () => {
        const tokenizer = fromJson(tokenizerConfig({ chat_template: [{ name: "tool_use", template: "T" }, { name: "default", template: "D" }] }));
        expect(tokenizer.chatTemplate).toBe("D");
        expect(fromJson({}).chatTemplate).toBeNull();
        expect(fromJson({}).bosToken).toBeNull();
    });

    test("a missing config is allowed", () => {
        const tokenizer = TextTokenizer.fromJson(JSON.stringify(byteLevelTokenizerJson()), "", "test");
        expect(tokenizer.decode(tokenizer.encode("hello"))).toBe("hello");
    });

    test("invalid JSON, non-objects and unbuildable tokenizers are TOKENIZER_INVALID", () => {
        expect(tokenizerError(() => TextTokenizer.fromJson("{", "", "x")).code).toBe("TOKENIZER_INVALID");
        expect(tokenizerError(() => TextTokenizer.fromJson("[]", "", "x")).message).toContain("not a JSON object");
        expect(tokenizerError(() => TextTokenizer.fromJson("{}", "", "x")).message).toContain("not a tokenizer this library can build");
        expect(tokenizerError(() => TextTokenizer.fromJson(JSON.stringify(byteLevelTokenizerJson()), "nope", "x")).message).toContain(
            "tokenizer_config.json",
        );
    });
});

describe("TextTokenizer from a path", () => {
    let dir = "";
    beforeAll(async () => {
        dir = await mkdtemp(path.join(os.tmpdir(), "localleap-tok-"));
        await writeFile(path.join(dir, "tokenizer.json"), JSON.stringify(byteLevelTokenizerJson()));
        await writeFile(path.join(dir, "tokenizer_config.json"), JSON.stringify(tokenizerConfig()));
    });
    afterAll(() => rm(dir, { recursive: true, force: true }));

    test("a folder or the tokenizer.json path both work, and read the config beside it", async () => {
        for (const p of [dir, path.join(dir, "tokenizer.json")]) {
            const tokenizer = await TextTokenizer.fromPath(p);
            expect(tokenizer.encode("hello")).toEqual([259]);
            expect(tokenizer.chatTemplate).toBe(CHAT_TEMPLATE);
            expect(tokenizer.source).toBe(path.join(dir, "tokenizer.json"));
        }
    });

    test("a missing path or a folder without tokenizer.json is TOKENIZER_MISSING", async () => {
        await expect(TextTokenizer.fromPath(path.join(dir, "absent"))).rejects.toMatchObject({ code: "TOKENIZER_MISSING" });
        const empty = await mkdtemp(path.join(os.tmpdir(), "localleap-empty-"));
        try {
            await expect(TextTokenizer.fromPath(empty)).rejects.toMatchObject({ code: "TOKENIZER_MISSING", message: expect.stringContaining("tokenizer.json") });
        } finally {
            await rm(empty, { recursive: true, force: true });
        }
    });
});

describe("chat template", () => {
    const template = compileChatTemplate(CHAT_TEMPLATE, "test");
    const tokens = { bosToken: "<|bos|>", eosToken: "<|eos|>" };

    test("renders messages with bos_token and the generation prompt", () => {
        const text = template.render([{ role: "system", content: "be brief" }, { role: "user", content: "hi" }], tokens);
        expect(text).toBe("<|bos|><|system|>be brief<|eot|><|user|>hi<|eot|><|assistant|>");
        const ids = fromJson().encode(text);
        expect(ids[0]).toBe(SPECIAL.bos);
        expect(ids[ids.length - 1]).toBe(SPECIAL.assistant);
    });

    test("raise_exception in the template is an InvalidInputError with its message", () => {
        expect(() => template.render([{ role: "user", content: "a" }, { role: "system", content: "b" }], tokens)).toThrow(InvalidInputError);
        expect(() => template.render([{ role: "user", content: "a" }, { role: "system", content: "b" }], tokens)).toThrow(
            /system message must come first/,
        );
    });

    test("a template that does not parse is TOKENIZER_INVALID", () => {
        expect(tokenizerError(() => compileChatTemplate("{% for %}", "cfg")).message).toContain("chat template from cfg cannot be parsed");
    });

    test("a template that fails while rendering is TOKENIZER_INVALID", () => {
        const failing = compileChatTemplate("{{ messages[0]['content'].nope() }}", "cfg");
        expect(tokenizerError(() => failing.render([{ role: "user", content: "a" }], tokens)).message).toContain("failed to render");
    });
});
