// APD (strategy "apd", docs/decoding.md "APD"): the engine against the plain Python reference
// (tools/reference_decode.py strategy apd, tools/localleap/apd_reference.py) token for token and
// step for step on the random-weight fixtures (Dream + a qwen2 causal LM, LLaDA + the same causal
// LM): greedy and sampled, R 0 / 0.5 / 1, W null / 1 / 4 / >= L, M 1 / 3 / 100, stopAtEos and
// endOfText, batches of rows of different prompt lengths (their forwards batched, their cursors
// diverging); then the public API's errors, options
// and streaming.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { Addon, AddonModel, AddonStepEvent } from "../../lib/bindings/AddonTypes";
import { getAddon } from "../../lib/bindings/getAddon";
import { ApdVocabMismatchError, InvalidOptionsError, LocalleapError, ModelMetadataError } from "../../lib/errors";
import { checkApdVocab, type VocabSide } from "../../lib/apd/checkVocab";
import { loadModel } from "../../lib/loadModel";
import type { Model } from "../../lib/model";
import type { GenerateResult, StepEvent } from "../../lib/types";
import { CAUSAL301_FIXTURE, CAUSAL_FIXTURE, DREAM_FIXTURE, LLADA_FIXTURE, ROOT, ensureApdFixtures, torchPython } from "../support/fixtures";
import { type ReferenceCase, runReferenceDecoder } from "../support/referenceDecoder";
import { runCli } from "../support/runCli";

const PROMPTS = [[72, 101, 108, 108, 111, 44, 32, 119], [50, 43, 50, 61], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]];
const GEN = 24;

interface ApdCase {
    model: string; arModel: string; prompts: number[][]; genLength: number; strategy: "apd";
    mixtureWeight: number; kvWindow: number | null; maxLookahead: number; temperature: number; seeds: number[]; stopAtEos: boolean;
}
interface ApdRow { tokens: number[]; steps: number; dllmForwards: number; arForwards: number; acceptedPerStep: number[]; stepsPerBlock: number[] }

/** The message of apd_reference.check_vocab on two archives ("" when they pass). */
function pythonCheckVocab(dllm: string, ar: string): string {
    const script = [
        "import sys; sys.path.insert(0, sys.argv[1])",
        "from localleap.apd_reference import CausalReference, VocabMismatch, archive_tokenizer, check_vocab",
        "from localleap.reference_decoder import ReferenceModel",
        "d = ReferenceModel(sys.argv[2]); a = CausalReference(sys.argv[3])",
        "try:\n    check_vocab(d.meta, archive_tokenizer(d.path), a.meta, a.tokenizer); print('')",
        "except VocabMismatch as e:\n    print(str(e))",
    ].join("\n");
    return execFileSync(torchPython(), ["-c", script, path.join(ROOT, "tools"), dllm, ar]).toString().trim();
}

let addon: Addon;
beforeAll(async () => {
    ensureApdFixtures();
    addon = (await getAddon({ device: "cpu" })).addon;
});

async function openPair(path: string, arPath: string): Promise<AddonModel> {
    const loaded = await addon.loadModel({ path, arPath, device: "cpu", threads: 1 });
    const m = JSON.parse(loaded.metadataJson);
    const a = JSON.parse(loaded.ar!.metadataJson);
    await loaded.model.configure({
        vocabSize: m.vocabSize, maskId: m.maskId, eosId: m.eosId, endIds: m.endIds, padId: m.padId, logitsShifted: m.logitsShifted,
        maxLength: m.maxLength, kvCache: m.kvCache,
        ar: { vocabSize: a.vocabSize, eosId: a.eosId, maxLength: a.maxLength, vocabWidth: Math.min(m.vocabSize, a.vocabSize), kvCache: a.kvCache },
    });
    return loaded.model;
}

function grid(model: string): ApdCase[] {
    const cases: ApdCase[] = [];
    let i = 0;
    for (const mixtureWeight of [0, 0.5, 1]) {
        for (const kvWindow of [null, 1, 4, 64]) {
            for (const maxLookahead of [1, 3, 100]) {
                // Greedy and sampled (T with an exact float32 inverse, as the reference's 1 / T), stopAtEos every third case.
                const temperature = i % 2 === 0 ? 0 : i % 4 === 1 ? 0.5 : 2;
                cases.push({
                    model, arModel: CAUSAL_FIXTURE, prompts: PROMPTS, genLength: GEN, strategy: "apd", mixtureWeight, kvWindow, maxLookahead,
                    temperature, seeds: [3 + i, 7 + i, 11 + i], stopAtEos: i % 3 === 0,
                });
                i++;
            }
        }
    }
    // The defaults (R 0.7, W 16, M 100), sampled.
    cases.push({ model, arModel: CAUSAL_FIXTURE, prompts: PROMPTS, genLength: GEN, strategy: "apd", mixtureWeight: 0.7, kvWindow: 16, maxLookahead: 100, temperature: 0.5, seeds: [5, 6, 7], stopAtEos: false });
    return cases;
}

const MODELS = [["dream", DREAM_FIXTURE], ["llada", LLADA_FIXTURE]] as const;

describe.each(MODELS)("strategy apd on the %s fixture + the qwen2 causal fixture", (_name, modelPath) => {
    test("engine decode equals the Python reference token for token and step for step", async () => {
        const cases = grid(modelPath);
        const expected = runReferenceDecoder(cases as unknown as ReferenceCase[]) as unknown as { rows: ApdRow[]; batchSteps: number }[];
        const model = await openPair(modelPath, CAUSAL_FIXTURE);
        let multi = 0, ar = 0;
        try {
            for (let i = 0; i < cases.length; i++) {
                const c = cases[i]!;
                const events: AddonStepEvent[] = [];
                const got = await model.generate({
                    prompts: c.prompts.map((p) => Int32Array.from(p)), genLength: c.genLength, blockLength: c.genLength, strategy: "apd", steps: 0,
                    threshold: 0.9, anchorThreshold: 0.9, relaxedThreshold: 0.75, radius: 4, temperature: c.temperature, seeds: c.seeds,
                    stopAtEos: c.stopAtEos, cudaGraph: false, mixtureWeight: c.mixtureWeight, kvWindow: c.kvWindow, maxLookahead: c.maxLookahead,
                    onStep: (e) => events.push(e),
                });
                const want = expected[i]!;
                const label = `R=${c.mixtureWeight} W=${c.kvWindow} M=${c.maxLookahead} T=${c.temperature} eos=${c.stopAtEos}`;
                expect({ label, batchSteps: got.batchSteps }).toEqual({ label, batchSteps: want.batchSteps });
                got.rows.forEach((row, b) => {
                    const w = want.rows[b]!;
                    expect({ label, b, tokens: Array.from(row.tokens) }).toEqual({ label, b, tokens: w.tokens });
                    expect({ label, b, steps: row.steps, dllm: row.dllmForwards, ar: row.arForwards, accepted: Array.from(row.acceptedPerStep!), perBlock: Array.from(row.stepsPerBlock) })
                        .toEqual({ label, b, steps: w.steps, dllm: w.dllmForwards, ar: w.arForwards, accepted: w.acceptedPerStep, perBlock: w.stepsPerBlock });
                    if (w.acceptedPerStep.some((a) => a > 1)) multi++;
                    ar += w.arForwards;
                    // Step events: each step of the row, its committed positions (generation-relative) in order.
                    let cursor = 0;
                    const rowEvents = events.map((e) => e.rows[b]!).filter((r) => r.positions.length > 0);
                    expect(rowEvents.map((r) => r.positions.length)).toEqual(w.acceptedPerStep);
                    for (const r of rowEvents) {
                        expect(Array.from(r.positions)).toEqual(Array.from({ length: r.positions.length }, (_, k) => cursor + k));
                        expect(Array.from(r.tokens)).toEqual(w.tokens.slice(cursor, cursor + r.positions.length));
                        cursor += r.positions.length;
                    }
                });
                expect(events.length).toBe(want.batchSteps);
            }
        } finally {
            await model.dispose();
        }
        // The grid exercises the rule: multi-token steps were accepted and the causal LM ran.
        expect(multi).toBeGreaterThan(0);
        expect(ar).toBeGreaterThan(0);
    }, 600000);
});

// Batched rows (docs/decoding.md "APD", "Batched rows"): a call's running rows share one dLLM
// forward and one causal-LM forward per step where their shapes allow it, with left padding and
// per-row windows; each row must still be the reference's row decoded alone, token for token and
// step for step, while the rows' cursors, lookaheads, windows and caches drift apart.
const DIVERGING = [[7], [50, 43, 50], [1, 2, 3, 4, 5], [72, 101, 108, 108, 111, 44, 32, 119], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 11, 12], [30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46]];

describe.each(MODELS)("strategy apd: a batch of rows whose cursors diverge, on the %s fixture", (_name, modelPath) => {
    test("each row of a 6-row batch equals the reference decoding it alone", async () => {
        const cases: ApdCase[] = [];
        let i = 0;
        for (const mixtureWeight of [0.5, 0.9]) {
            for (const kvWindow of [null, 4]) {
                for (const maxLookahead of [3, 100]) {
                    for (const temperature of [0, 0.5]) {
                        cases.push({
                            model: modelPath, arModel: CAUSAL_FIXTURE, prompts: DIVERGING, genLength: GEN, strategy: "apd", mixtureWeight, kvWindow,
                            maxLookahead, temperature, seeds: DIVERGING.map((_, b) => 100 + 7 * i + b), stopAtEos: i % 4 === 3,
                        });
                        i++;
                    }
                }
            }
        }
        // The reference, one case per row: each prompt decoded alone.
        const alone = cases.flatMap((c) => c.prompts.map((p, b) => ({ ...c, prompts: [p], seeds: [c.seeds[b]!] })));
        const expected = runReferenceDecoder(alone as unknown as ReferenceCase[]) as unknown as { rows: ApdRow[]; batchSteps: number }[];
        const model = await openPair(modelPath, CAUSAL_FIXTURE);
        let diverged = 0;
        try {
            for (const [ci, c] of cases.entries()) {
                const got = await model.generate({
                    prompts: c.prompts.map((p) => Int32Array.from(p)), genLength: c.genLength, blockLength: c.genLength, strategy: "apd", steps: 0,
                    threshold: 0.9, anchorThreshold: 0.9, relaxedThreshold: 0.75, radius: 4, temperature: c.temperature, seeds: c.seeds,
                    stopAtEos: c.stopAtEos, cudaGraph: false, mixtureWeight: c.mixtureWeight, kvWindow: c.kvWindow, maxLookahead: c.maxLookahead,
                });
                const label = `R=${c.mixtureWeight} W=${c.kvWindow} M=${c.maxLookahead} T=${c.temperature} eos=${c.stopAtEos}`;
                const wants = c.prompts.map((_, b) => expected[ci * c.prompts.length + b]!.rows[0]!);
                expect(got.batchSteps).toBe(Math.max(...wants.map((w) => w.steps)));
                got.rows.forEach((row, b) => {
                    const w = wants[b]!;
                    expect({ label, b, tokens: Array.from(row.tokens), steps: row.steps, dllm: row.dllmForwards, ar: row.arForwards, accepted: Array.from(row.acceptedPerStep!) })
                        .toEqual({ label, b, tokens: w.tokens, steps: w.steps, dllm: w.dllmForwards, ar: w.arForwards, accepted: w.acceptedPerStep });
                });
                // The rows' cursors drift apart: their accepted lengths differ at some step.
                const first = wants.map((w) => w.acceptedPerStep.join(","));
                if (new Set(first).size > 1) diverged++;
            }
            // A logits budget of 1 byte cuts every batched forward into forwards of one row (read
            // when a call starts): the same rows.
            process.env.LOCALLEAP_LOGITS_BUDGET_BYTES = "1";
            try {
                for (const [ci, c] of cases.entries()) {
                    if (ci % 3 !== 0) continue;
                    const got = await model.generate({
                        prompts: c.prompts.map((p) => Int32Array.from(p)), genLength: c.genLength, blockLength: c.genLength, strategy: "apd", steps: 0,
                        threshold: 0.9, anchorThreshold: 0.9, relaxedThreshold: 0.75, radius: 4, temperature: c.temperature, seeds: c.seeds,
                        stopAtEos: c.stopAtEos, cudaGraph: false, mixtureWeight: c.mixtureWeight, kvWindow: c.kvWindow, maxLookahead: c.maxLookahead,
                    });
                    got.rows.forEach((row, b) => {
                        expect({ ci, b, tokens: Array.from(row.tokens), accepted: Array.from(row.acceptedPerStep!) })
                            .toEqual({ ci, b, tokens: expected[ci * c.prompts.length + b]!.rows[0]!.tokens, accepted: expected[ci * c.prompts.length + b]!.rows[0]!.acceptedPerStep });
                    });
                }
            } finally {
                delete process.env.LOCALLEAP_LOGITS_BUDGET_BYTES;
            }
        } finally {
            await model.dispose();
        }
        expect(diverged).toBeGreaterThan(cases.length / 2);
    }, 600000);
});

describe("strategy apd through the public API", () => {
    let model: Model;
    beforeAll(async () => {
        model = await loadModel({ modelPath: DREAM_FIXTURE, device: "cpu", threads: 1, apd: { arModelPath: CAUSAL_FIXTURE } });
    });
    afterAll(async () => {
        await model?.dispose();
    });

    test("model.info.apd names the causal LM and the shared width", () => {
        expect(model.info.apd).toEqual({ arModelPath: CAUSAL_FIXTURE, vocabWidth: 300 });
    });

    test("generate() and endOfText equal the reference; the result has dllmForwards, arForwards, acceptedPerStep", async () => {
        const optionSets = [{ stopAtEos: true }, { endOfText: true }];
        // The reference's endOfText stops a row as its stopAtEos does (APD commits left to right).
        const wants = runReferenceDecoder(optionSets.map((options) => ({ model: DREAM_FIXTURE, arModel: CAUSAL_FIXTURE, prompts: [PROMPTS[0]!], genLength: GEN, strategy: "apd", ...options, temperature: 0 }) as unknown as ReferenceCase)) as unknown as { rows: ApdRow[] }[];
        for (const [i, options] of optionSets.entries()) {
            const result = await model.generate(PROMPTS[0]!, { strategy: "apd", genLength: GEN, ...options });
            const w = wants[i]!.rows[0]!;
            expect(result.steps).toBe(w.steps);
            expect(result.dllmForwards).toBe(w.dllmForwards);
            expect(result.arForwards).toBe(w.arForwards);
            expect(result.acceptedPerStep).toEqual(w.acceptedPerStep);
            expect(result.stepsPerBlock).toEqual([w.steps]);
            // One block, the generation span.
            expect(result.blockLengths).toEqual([GEN]);
        }
    });

    test("stream() yields step events with generation-relative positions, in order", async () => {
        const events: StepEvent[] = [];
        const stream = model.stream(PROMPTS[1]!, { strategy: "apd", genLength: GEN, maxLookahead: 4, mixtureWeight: 0.5 });
        for await (const event of stream) if (event.type === "step") events.push(event);
        const result = await stream.result;
        const positions = events.flatMap((e) => e.committed.map((t) => t.position));
        expect(positions).toEqual(Array.from({ length: positions.length }, (_, k) => k));
        expect(events.length).toBe(result.steps);
        expect(result.acceptedPerStep!.reduce((x, y) => x + y, 0)).toBe(GEN);
    });

    test("bad option values are InvalidOptionsError naming the field", async () => {
        const bad: [Record<string, unknown>, string][] = [
            [{ mixtureWeight: 1.5 }, "mixtureWeight"],
            [{ mixtureWeight: -0.1 }, "mixtureWeight"],
            [{ kvWindow: 0 }, "kvWindow"],
            [{ kvWindow: 2.5 }, "kvWindow"],
            [{ maxLookahead: 0 }, "maxLookahead"],
            [{ blockLength: 8 }, "blockLength"],
            [{ cache: "dual" }, "cache"],
            // Main's block-rule features that do not combine with APD.
            [{ adaptiveBlock: true }, "adaptiveBlock"],
            [{ adaptiveBlock: { window: 4 } }, "adaptiveBlock"],
            [{ acceptThreshold: 0.9 }, "acceptThreshold"],
        ];
        for (const [options, field] of bad) {
            const error = await model.generate(PROMPTS[0]!, { strategy: "apd", genLength: GEN, ...options } as never).catch((e: unknown) => e);
            expect(error).toBeInstanceOf(InvalidOptionsError);
            expect((error as InvalidOptionsError).issues.map((i) => i.field)).toContain(field);
        }
        // APD's options belong to strategy apd.
        const error = await model.generate(PROMPTS[0]!, { genLength: GEN, maxLookahead: 3 } as never).catch((e: unknown) => e);
        expect((error as InvalidOptionsError).issues.map((i) => i.field)).toEqual(["maxLookahead"]);
    });

    test("an abort before the next step rejects with AbortError", async () => {
        const controller = new AbortController();
        const pending = model.generate(PROMPTS[0]!, { strategy: "apd", genLength: GEN, maxLookahead: 1, signal: controller.signal, onStep: () => controller.abort() });
        await expect(pending).rejects.toMatchObject({ code: "ABORTED" });
        // The model goes on.
        expect((await model.generate(PROMPTS[0]!, { strategy: "apd", genLength: 8 })).acceptedPerStep!.reduce((x, y) => x + y, 0)).toBe(8);
    });

    test("the CLI's --ar-model, --mixture-weight, --kv-window, --max-lookahead give the API's result", async () => {
        const options = { strategy: "apd", genLength: GEN, mixtureWeight: 0.5, kvWindow: null, maxLookahead: 3, raw: true } as const;
        const want = await model.generate("hello there", options);
        const run = await runCli(["generate", "--model", DREAM_FIXTURE, "--ar-model", CAUSAL_FIXTURE, "--device", "cpu", "--strategy", "apd", "--gen-length", String(GEN),
            "--mixture-weight", "0.5", "--kv-window", "none", "--max-lookahead", "3", "--raw", "--json", "hello there"]);
        expect(run.stderr).toBe("");
        const got = JSON.parse(run.stdout) as { tokens: number[]; steps: number; arForwards: number; acceptedPerStep: number[] };
        expect({ tokens: got.tokens, steps: got.steps, ar: got.arForwards, accepted: got.acceptedPerStep })
            .toEqual({ tokens: want.tokens, steps: want.steps, ar: want.arForwards, accepted: want.acceptedPerStep });
    });

    test("APD calls and block-rule calls running at once give the results they give alone", async () => {
        const calls = [
            { strategy: "apd", genLength: GEN, maxLookahead: 5 },
            { strategy: "localleap", genLength: GEN, blockLength: 8, cache: "none" },
            { strategy: "apd", genLength: GEN, mixtureWeight: 0.3, kvWindow: 2, temperature: 0.5, seed: 4 },
            { strategy: "threshold", genLength: GEN, blockLength: 8, cache: "dual" },
        ] as const;
        const alone: GenerateResult[] = [];
        for (const [i, options] of calls.entries()) alone.push(await model.generate(PROMPTS[i % 3]!, options));
        const together = await Promise.all(calls.map((options, i) => model.generate(PROMPTS[i % 3]!, options)));
        together.forEach((result, i) => {
            expect({ i, tokens: result.tokens, steps: result.steps, accepted: result.acceptedPerStep }).toEqual({ i, tokens: alone[i]!.tokens, steps: alone[i]!.steps, accepted: alone[i]!.acceptedPerStep });
        });
    });

    test("kvWindow null and blockLength = genLength are accepted", async () => {
        const result = await model.generate(PROMPTS[2]!, { strategy: "apd", genLength: GEN, blockLength: GEN, kvWindow: null });
        expect(result.acceptedPerStep!.length).toBe(result.steps);
    });
});

describe("strategy apd: load-time errors", () => {
    test("strategy apd on a model loaded without a causal LM is InvalidOptionsError naming apd.arModelPath", async () => {
        const model = await loadModel({ modelPath: LLADA_FIXTURE, device: "cpu", threads: 1 });
        try {
            expect(model.info.apd).toBeNull();
            const error = await model.generate(PROMPTS[0]!, { strategy: "apd", genLength: GEN }).catch((e: unknown) => e);
            expect(error).toBeInstanceOf(InvalidOptionsError);
            expect((error as Error).message).toContain("apd.arModelPath");
        } finally {
            await model.dispose();
        }
    });

    test("a causal LM whose tokenizer differs is ApdVocabMismatchError (APD_VOCAB_MISMATCH, reason tokenizer)", async () => {
        const error = await loadModel({ modelPath: LLADA_FIXTURE, device: "cpu", threads: 1, apd: { arModelPath: CAUSAL301_FIXTURE } }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ApdVocabMismatchError);
        expect((error as LocalleapError).code).toBe("APD_VOCAB_MISMATCH");
        expect((error as ApdVocabMismatchError).reason).toBe("tokenizer");
        // The same first difference, in the same words, as the Python reference's check_vocab.
        expect((error as Error).message).toBe(pythonCheckVocab(LLADA_FIXTURE, CAUSAL301_FIXTURE));
    });

    test("a diffusion LM as the causal LM, and a causal LM as modelPath, are ModelMetadataError (field kind)", async () => {
        const asAr = await loadModel({ modelPath: LLADA_FIXTURE, device: "cpu", threads: 1, apd: { arModelPath: DREAM_FIXTURE } }).catch((e: unknown) => e);
        expect(asAr).toBeInstanceOf(ModelMetadataError);
        expect((asAr as ModelMetadataError).field).toBe("kind");
        const asMain = await loadModel({ modelPath: CAUSAL_FIXTURE, device: "cpu", threads: 1 }).catch((e: unknown) => e);
        expect(asMain).toBeInstanceOf(ModelMetadataError);
        expect((asMain as ModelMetadataError).field).toBe("kind");
        expect((asMain as Error).message).toContain("autoregressive half");
    });

    test("a bad apd option is InvalidOptionsError", async () => {
        const error = await loadModel({ modelPath: LLADA_FIXTURE, device: "cpu", apd: { arModelPath: "" } }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(InvalidOptionsError);
        expect((error as InvalidOptionsError).issues[0]!.field).toContain("apd");
    });
});

describe("the vocabulary check (docs/decoding.md \"The vocabulary check\")", () => {
    type Tok = { model: { type: string; vocab: Record<string, number>; merges: string[] }; added_tokens: { id: number; content: string }[] };
    const base = (name: string) => JSON.parse(readFileSync(path.join(ROOT, "test", "fixtures", "generated", name, "tokenizer.json"), "utf8")) as Tok;
    const lladaMeta: VocabSide = { vocabSize: 300, maskId: 297, eosId: 295, endIds: [295, 296] };
    const arMeta: VocabSide = { vocabSize: 300, eosId: 295, endIds: [295, 296] };
    const edit = (tok: Tok, change: (t: Tok) => void): Tok => {
        const copy = JSON.parse(JSON.stringify(tok)) as Tok;
        change(copy);
        return copy;
    };

    test("checkApdVocab gives the width, or the reason and message, of apd_reference.check_vocab, case by case", () => {
        const d = base("llada"), a = base("causal");
        const firstToken = Object.keys(a.model.vocab)[5]!;
        const cases: [VocabSide, Tok | null, VocabSide, Tok | null][] = [
            [lladaMeta, d, arMeta, a],                                                            // the same vocabulary: 300
            [lladaMeta, d, { ...arMeta, vocabSize: 320 }, a],                                     // wider AR logits: 300
            [lladaMeta, d, arMeta, null],                                                         // no-tokenizer
            [lladaMeta, null, arMeta, a],                                                         // no-tokenizer
            [lladaMeta, d, arMeta, edit(a, (t) => { t.model.type = "WordPiece"; })],              // tokenizer: model type
            [lladaMeta, d, arMeta, edit(a, (t) => { t.model.merges = t.model.merges.slice(1); })], // tokenizer: merges
            [lladaMeta, d, arMeta, edit(a, (t) => { t.model.vocab[firstToken] = 7; })],           // tokenizer: an id moved
            [lladaMeta, edit(d, (t) => { t.model.vocab["zzq"] = 299; }), arMeta, a],              // tokenizer: a plain token the AR lacks
            [lladaMeta, edit(d, (t) => { t.added_tokens.push({ id: 5, content: "<|x|>" }); }), arMeta, a], // tokenizer: an added token at an AR id
            [lladaMeta, d, { ...arMeta, vocabSize: 296 }, a],                                     // width: a dLLM token outside the AR's logits
            [{ ...lladaMeta, endIds: [295, 299] }, d, { ...arMeta, vocabSize: 299 }, a],          // width or tokenizer, as the reference decides
        ];
        const script = [
            "import json, sys; sys.path.insert(0, sys.argv[1])",
            "from localleap.apd_reference import VocabMismatch, check_vocab",
            "out = []",
            "for dm, dt, am, at in json.load(sys.stdin):",
            "    try:\n        out.append(check_vocab(dm, dt, am, at))",
            "    except VocabMismatch as e:\n        out.append([e.reason, str(e)])",
            "print(json.dumps(out))",
        ].join("\n");
        const want = JSON.parse(execFileSync(torchPython(), ["-c", script, path.join(ROOT, "tools")], { input: JSON.stringify(cases) }).toString()) as (number | [string, string])[];
        expect(want.filter((w) => typeof w === "number")).toEqual([300, 300]);
        const got = cases.map(([dm, dt, am, at]) => {
            try {
                return checkApdVocab(dm, dt === null ? "" : JSON.stringify(dt), am, at === null ? "" : JSON.stringify(at));
            } catch (error) {
                expect(error).toBeInstanceOf(ApdVocabMismatchError);
                expect((error as LocalleapError).code).toBe("APD_VOCAB_MISMATCH");
                return [(error as ApdVocabMismatchError).reason, (error as Error).message];
            }
        });
        expect(got).toEqual(want);
        // Every reason is exercised.
        expect(new Set(want.filter((w): w is [string, string] => Array.isArray(w)).map((w) => w[0]))).toEqual(new Set(["no-tokenizer", "tokenizer", "width"]));
    });
});
