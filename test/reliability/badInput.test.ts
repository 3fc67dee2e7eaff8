// The bad-input table: every wrong option, input, archive, tokenizer, metadata field and
// lifecycle misuse is refused with its documented LocalleapError code (never an untyped error,
// never a hang). The summary at the end gives the counts.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadModel, LocalleapError, type LocalleapErrorCode, type Model } from "../../lib";
import { LLADA_FIXTURE, ROOT, torchPython } from "../support/fixtures";
import { type HostileArchives, makeHostileArchives } from "../support/hostileArchives";
import { badInputCases, type BadInputContext } from "../support/badInputCases";

/** A case must settle within this (a hang is a failure, not a timeout of the whole file). */
const CASE_DEADLINE_MS = 15000;

let dir: string;
let hostile: HostileArchives;
let model: Model;
const ctx = {} as BadInputContext;
const outcomes: { name: string; expected: LocalleapErrorCode; got: string }[] = [];

/** Archives whose localleap.json is edited: name -> edit (test/support/rewrite_metadata.py). */
const METADATA_EDITS: Record<string, object> = {
    "no-metadata": { drop: true },
    "metadata-not-json": { raw: "{ not json" },
    "metadata-array": { raw: "[]" },
    "metadata-wrong-format": { set: { format: "gguf" } },
    "metadata-future-version": { set: { formatVersion: 99 } },
    "metadata-vocab-string": { set: { vocabSize: "300" } },
    "metadata-vocab-zero": { set: { vocabSize: 0 } },
    "metadata-mask-outside": { set: { maskId: 300 } },
    "metadata-eos-negative": { set: { eosId: -1 } },
    "metadata-end-ids-empty": { set: { endIds: [] } },
    "metadata-max-length-one": { set: { maxLength: 1 } },
    "metadata-bad-dtype": { set: { dtype: "int8" } },
    "metadata-bad-architecture": { set: { architecture: "gpt" } },
    "metadata-no-vocab": { delete: ["vocabSize"] },
    "metadata-bos-unknown": { set: { addBos: true, bosToken: "<never-a-token>" } },
    "metadata-vocab-mismatch": { set: { vocabSize: 200, maskId: 100, eosId: 0, endIds: [0], padId: 0 } },
};

beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), "localleap-bad-input-"));
    hostile = makeHostileArchives();
    execFileSync(torchPython(), [path.join(ROOT, "test", "support", "rewrite_metadata.py"), LLADA_FIXTURE, dir], {
        input: JSON.stringify(METADATA_EDITS),
    });
    const fixture = readFileSync(LLADA_FIXTURE);
    const write = (name: string, data: string | Buffer) => {
        const file = path.join(dir, name);
        writeFileSync(file, data);
        return file;
    };
    mkdirSync(path.join(dir, "empty-folder"));
    const tokenizerDir = path.join(dir, "tokenizer-ok");
    mkdirSync(tokenizerDir);
    copyFileSync(path.join(ROOT, "test", "fixtures", "generated", "llada", "tokenizer.json"), path.join(tokenizerDir, "tokenizer.json"));
    Object.assign(ctx, {
        dir,
        fixture: LLADA_FIXTURE,
        hostile: (name: string) => hostile.archive(name),
        metadataVariant: (name: string) => path.join(dir, `${name}.pt`),
        write,
        tokenizerJson: readFileSync(path.join(tokenizerDir, "tokenizer.json"), "utf8"),
        truncated: write("truncated.pt", fixture.subarray(0, Math.floor(fixture.length / 2))),
        model: () => model,
    });
}, 60000);

beforeAll(async () => {
    model = await loadModel({ modelPath: LLADA_FIXTURE, device: "cpu" });
}, 60000);

afterAll(async () => {
    await model?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (hostile) rmSync(hostile.dir, { recursive: true, force: true });
    const matched = outcomes.filter((o) => o.got === o.expected).length;
    const untyped = outcomes.filter((o) => o.got.startsWith("untyped")).length;
    const hangs = outcomes.filter((o) => o.got === "hang").length;
    const accepted = outcomes.filter((o) => o.got === "no error").length;
    const lines = outcomes.filter((o) => o.got !== o.expected).map((o) => `  ${o.name}: expected ${o.expected}, got ${o.got}`);
    console.log(
        `bad-input table: ${outcomes.length} cases, ${matched} gave the expected code; ` +
            `untyped errors ${untyped}, hangs ${hangs}, accepted ${accepted}` + (lines.length > 0 ? `\n${lines.join("\n")}` : ""),
    );
});

/** What a case gave: its code, "no error", "hang", or "untyped: ..." for anything else thrown. */
async function outcomeOf(run: () => unknown): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve("hang"), CASE_DEADLINE_MS);
    });
    const attempt = (async () => {
        try {
            const value = await run();
            // A case that unexpectedly loads a model must not leak it.
            if (value !== null && typeof value === "object" && typeof (value as Model).dispose === "function") await (value as Model).dispose();
            return "no error";
        } catch (error) {
            if (error instanceof LocalleapError) return error.code;
            return `untyped: ${(error as Error)?.name}: ${(error as Error)?.message}`;
        }
    })();
    try {
        return await Promise.race([attempt, deadline]);
    } finally {
        clearTimeout(timer);
    }
}

describe("bad-input table", () => {
    const cases = badInputCases();
    test("has at least 150 cases with distinct names", () => {
        expect(cases.length).toBeGreaterThanOrEqual(150);
        expect(new Set(cases.map((c) => `${c.group}: ${c.name}`)).size).toBe(cases.length);
    });
    test.each(cases.map((c) => [`${c.group}: ${c.name} -> ${c.code}`, c] as const))("%s", async (_title, c) => {
        const got = await outcomeOf(() => c.run(ctx));
        outcomes.push({ name: `${c.group}: ${c.name}`, expected: c.code, got });
        expect(got).toBe(c.code);
    }, CASE_DEADLINE_MS + 5000);
});
