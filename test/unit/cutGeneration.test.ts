import { describe, expect, test } from "@jest/globals";
import { cutGeneration, settledText, type TextLimits } from "../../lib/generation/cutGeneration";

// Token t decodes to the character with code t (end token 0 decodes to nothing).
const decode = (ids: number[]) => String.fromCharCode(...ids.filter((id) => id !== 0));
const ids = (text: string) => Array.from(text, (c) => c.charCodeAt(0));
const limits = (over: Partial<TextLimits> = {}): TextLimits => ({ endIds: new Set([0]), maxTokens: null, stop: [], decode, ...over });

describe("cutGeneration", () => {
    test("the whole span without an end token ends by length; an unfinished prefix has no reason yet", () => {
        expect(cutGeneration(ids("abc"), true, limits())).toEqual({ tokens: ids("abc"), text: "abc", reason: "length" });
        expect(cutGeneration(ids("abc"), false, limits())).toEqual({ tokens: ids("abc"), text: "abc", reason: null });
    });

    test("an end token ends the text before it, complete or not", () => {
        expect(cutGeneration([...ids("ab"), 0, ...ids("cd")], false, limits())).toEqual({ tokens: ids("ab"), text: "ab", reason: "eos" });
    });

    test("maxTokens caps the tokens; an end token exactly at the cap is still eos", () => {
        expect(cutGeneration(ids("abcdef"), false, limits({ maxTokens: 4 }))).toEqual({ tokens: ids("abcd"), text: "abcd", reason: "max-tokens" });
        expect(cutGeneration(ids("abc"), false, limits({ maxTokens: 4 })).reason).toBeNull();
        expect(cutGeneration([...ids("abcd"), 0], false, limits({ maxTokens: 4 })).reason).toBe("eos");
        expect(cutGeneration([...ids("ab"), 0], false, limits({ maxTokens: 4 })).reason).toBe("eos");
    });

    test("the earliest stop string cuts the text; tokens run to the one that completes it", () => {
        expect(cutGeneration(ids("one. two\nthree"), false, limits({ stop: ["\n", ". "] }))).toEqual({
            tokens: ids("one. "),
            text: "one",
            reason: "stop",
        });
        // Several stops at the same place: the longest one decides the tokens kept.
        expect(cutGeneration(ids("x-->y"), true, limits({ stop: ["-", "-->"] })).tokens).toEqual(ids("x-->"));
        // A stop string after the end token does not count.
        expect(cutGeneration([...ids("ab"), 0, ...ids("\n")], true, limits({ stop: ["\n"] })).reason).toBe("eos");
    });

    test("a longer prefix of the same generation ends at the same place", () => {
        const full = ids("the answer is 4.\nmore text");
        const first = cutGeneration(full.slice(0, 18), false, limits({ stop: ["\n"] }));
        expect(first.reason).toBe("stop");
        expect(cutGeneration(full, true, limits({ stop: ["\n"] }))).toEqual(first);
    });
});

describe("settledText", () => {
    test("holds back a tail that may start a stop string, and replacement characters", () => {
        expect(settledText("abc<", ["<end>"])).toBe("abc");
        expect(settledText("abc<en", ["<end>"])).toBe("abc");
        expect(settledText("abc<x", ["<end>"])).toBe("abc<x");
        expect(settledText("caf\uFFFD", [])).toBe("caf");
        expect(settledText("plain", [])).toBe("plain");
    });
});
