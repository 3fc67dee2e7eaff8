// Hugging Face checkpoints -> localleap models: tiny random-weight checkpoints in exactly the
// LLaDA and Dream layouts (tools/make_hf_checkpoint.py: config keys, tensor names, sharded
// safetensors + index, tokenizer files with the released special tokens and chat templates) go
// through tools/export_hf.py (float32, manual attention, CPU; its parity check runs too), load
// through the public API and chat through generate(messages). The prompt ids the chat template
// produced are checked against an independent rendering (@huggingface/jinja on the checkpoint's
// own tokenizer_config.json, the checkpoint's own tokenizer) and against the released layouts'
// special-token positions. Then the export's errors: unsupported architecture or option, missing
// shard, mismatched shape, no config.json.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { Template } from "@huggingface/jinja";
import { Tokenizer } from "@huggingface/tokenizers";
import { loadModel } from "../../lib/loadModel";
import type { Model } from "../../lib/model";
import { BLOCK_STRATEGIES as STRATEGIES, type GenerateOptions } from "../../lib/options";
import { encodePrompt, type PromptContext } from "../../lib/prompt/encodePrompt";
import type { ChatMessage } from "../../lib/types";
import { exportHf, exportHfForTest, makeHfCheckpoint, TINY_DREAM_IDS, TINY_LLADA_IDS } from "../support/hfCheckpoints";

const MESSAGES: ChatMessage[] = [
    { role: "system", content: "You are terse." },
    { role: "user", content: "What is 2+2? Let's see." },
];
// The released templates' output for MESSAGES, written out by hand.
const LLADA_PROMPT =
    "<|startoftext|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>" +
    "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2? Let's see.<|eot_id|>" +
    "<|start_header_id|>assistant<|end_header_id|>\n\n";
const DREAM_PROMPT =
    "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nWhat is 2+2? Let's see.<|im_end|>\n<|im_start|>assistant\n";

let work: string;
const dirs = {
    llada: "", dream: "", dreamTokenizer: "", lladaOut: "", dreamOut: "",
};

beforeAll(() => {
    work = mkdtempSync(path.join(os.tmpdir(), "localleap-hf-"));
    dirs.llada = path.join(work, "LLaDA-tiny");
    dirs.dream = path.join(work, "Dream-tiny");
    dirs.dreamTokenizer = path.join(work, "dream-fast-tokenizer");
    dirs.lladaOut = path.join(work, "out-llada");
    dirs.dreamOut = path.join(work, "out-dream");
    makeHfCheckpoint("llada", dirs.llada);
    makeHfCheckpoint("dream", dirs.dream); // slow-tokenizer files only: the export builds tokenizer.json
    makeHfCheckpoint("dream", dirs.dreamTokenizer, ["--tokenizer-only", "--tokenizer-json"]);
    exportHfForTest(dirs.llada, path.join(dirs.lladaOut, "model.pt"));
    exportHfForTest(dirs.dream, path.join(dirs.dreamOut, "model.pt"));
}, 120_000);

afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
});

const readJson = (file: string) => JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;

/** Ids of `text` by the checkpoint's own tokenizer.json, through @huggingface/tokenizers directly. */
function tokenize(tokenizerJsonPath: string, text: string): number[] {
    const folder = path.dirname(tokenizerJsonPath);
    const tokenizer = new Tokenizer(readJson(tokenizerJsonPath), readJson(path.join(folder, "tokenizer_config.json")));
    return tokenizer.encode(text, { add_special_tokens: false }).ids;
}

/** The chat template of a tokenizer_config.json rendered as apply_chat_template(add_generation_prompt=True) does. */
function renderTemplate(tokenizerConfigPath: string, messages: ChatMessage[]): string {
    const config = readJson(tokenizerConfigPath);
    const token = (v: unknown) => (typeof v === "string" ? v : ((v as { content?: string } | null)?.content ?? ""));
    return new Template(config.chat_template as string).render({
        messages, add_generation_prompt: true, bos_token: token(config.bos_token), eos_token: token(config.eos_token),
    });
}

/** The prompt ids generate() builds (the model's own prompt context). */
function promptIds(model: Model, messages: ChatMessage[]): number[] {
    const context = (model as unknown as { parts: { prompt: PromptContext } }).parts.prompt;
    return encodePrompt(messages, context);
}

const GREEDY: GenerateOptions = { genLength: 32, blockLength: 16, strategy: "low-confidence", steps: 32 };

async function checkChat(model: Model, expectedIds: number[]) {
    expect(promptIds(model, MESSAGES)).toEqual(expectedIds);
    const viaChat = await model.generate(MESSAGES, GREEDY);
    const viaIds = await model.generate(expectedIds, GREEDY);
    expect(viaChat.promptTokens).toBe(expectedIds.length);
    expect({ tokens: viaChat.tokens, steps: viaChat.steps }).toEqual({ tokens: viaIds.tokens, steps: viaIds.steps });
    // "learned" needs an archive with a learned filter: test/native/learnedFilter.test.ts covers it.
    for (const strategy of STRATEGIES.filter((s) => s !== "learned")) {
        const options = { genLength: 32, blockLength: 16, strategy, temperature: 0.7, seed: 11 } as GenerateOptions;
        const r = await model.generate(MESSAGES, options);
        expect(r.promptTokens).toBe(expectedIds.length);
        expect(r.steps).toBeGreaterThan(0);
        expect(r.steps).toBeLessThanOrEqual(32);
        expect(r.tokens.length).toBeLessThanOrEqual(32);
        expect(r.tokens.every((t) => Number.isInteger(t) && t >= 0 && t < model.info.metadata.vocabSize)).toBe(true);
        expect(typeof r.text).toBe("string");
    }
}

describe("LLaDA layout (model.transformer.*, tokenizer.json)", () => {
    let model: Model;
    beforeAll(async () => {
        model = await loadModel({ modelPath: path.join(dirs.lladaOut, "model.pt"), device: "cpu" });
    });
    afterAll(async () => {
        await model?.dispose();
    });

    test("metadata: unshifted logits, ids from config.json and the tokenizer, the released chat template", () => {
        const md = model.info.metadata;
        expect(md).toMatchObject({
            architecture: "llada", logitsShifted: false, vocabSize: 384, maskId: TINY_LLADA_IDS.mask,
            eosId: TINY_LLADA_IDS.endoftext, endIds: [TINY_LLADA_IDS.endoftext, TINY_LLADA_IDS.eot], padId: TINY_LLADA_IDS.endoftext,
            dtype: "float32", attention: "manual", maxLength: 4096, addBos: true, bosToken: "<|startoftext|>",
            name: "LLaDA-tiny",
        });
        expect(md.chatTemplate).toBe(readJson(path.join(dirs.llada, "tokenizer_config.json")).chat_template);
        expect(md.config).toMatchObject({ hidden_size: 64, num_layers: 2, num_heads: 4, num_kv_heads: 4, intermediate_size: 128, qkv_bias: false });
        const parity = (md.exporter as { parity: { maxRelDiff: number; bound: number } }).parity;
        expect(parity.maxRelDiff).toBeLessThanOrEqual(parity.bound);
        for (const f of ["tokenizer.json", "tokenizer_config.json", "generation_config.json"]) {
            expect(existsSync(path.join(dirs.lladaOut, f))).toBe(true);
        }
    });

    test("generate(messages) sends exactly the prompt LLaDA's chat template makes; every strategy runs", async () => {
        expect(renderTemplate(path.join(dirs.llada, "tokenizer_config.json"), MESSAGES)).toBe(LLADA_PROMPT);
        const ids = tokenize(path.join(dirs.llada, "tokenizer.json"), LLADA_PROMPT);
        const I = TINY_LLADA_IDS;
        expect(ids.slice(0, 2)).toEqual([I.startoftext, I.startHeader]);
        expect(ids.filter((t) => t === I.eot)).toHaveLength(2);
        expect(ids.filter((t) => t >= 320)).toEqual([I.startoftext, I.startHeader, I.endHeader, I.eot, I.startHeader, I.endHeader, I.eot, I.startHeader, I.endHeader]);
        expect(ids[ids.length - 2]).toBe(I.endHeader);
        await checkChat(model, ids);
    });

    test("a plain string prompt gets BOS once (the tokenizer's post-processor adds it)", async () => {
        const ids = promptIds(model, "Hello" as unknown as ChatMessage[]);
        expect(ids[0]).toBe(TINY_LLADA_IDS.startoftext);
        expect(ids.filter((t) => t === TINY_LLADA_IDS.startoftext)).toHaveLength(1);
    });
});

describe("Dream layout (model.layers.*, q/k/v biases, GQA, vocab.json + merges.txt)", () => {
    let model: Model;
    beforeAll(async () => {
        model = await loadModel({ modelPath: path.join(dirs.dreamOut, "model.pt"), device: "cpu" });
    });
    afterAll(async () => {
        await model?.dispose();
    });

    test("metadata: shifted logits, <|im_end|> ends the turn", () => {
        const md = model.info.metadata;
        expect(md).toMatchObject({
            architecture: "dream", logitsShifted: true, vocabSize: 384, maskId: TINY_DREAM_IDS.mask,
            eosId: TINY_DREAM_IDS.endoftext, endIds: [TINY_DREAM_IDS.endoftext, TINY_DREAM_IDS.imEnd], padId: TINY_DREAM_IDS.endoftext,
            dtype: "float32", attention: "manual", addBos: false, bosToken: "<|beginoftext|>", name: "Dream-tiny",
        });
        expect(md.config).toMatchObject({ num_heads: 4, num_kv_heads: 2, qkv_bias: true, tie_embeddings: false });
        expect(existsSync(path.join(dirs.dreamOut, "tokenizer.json"))).toBe(true);
        expect(existsSync(path.join(dirs.dream, "tokenizer.json"))).toBe(false); // the checkpoint is left alone
    });

    test("generate(messages) sends exactly the prompt Dream's chat template makes; every strategy runs", async () => {
        expect(renderTemplate(path.join(dirs.dream, "tokenizer_config.json"), MESSAGES)).toBe(DREAM_PROMPT);
        // Ids by the generator's own fast tokenizer, not the one the export built from vocab.json + merges.txt.
        const ids = tokenize(path.join(dirs.dreamTokenizer, "tokenizer.json"), DREAM_PROMPT);
        const I = TINY_DREAM_IDS;
        expect(ids.filter((t) => t >= 320)).toEqual([I.imStart, I.imEnd, I.imStart, I.imEnd, I.imStart]);
        expect(ids[0]).toBe(I.imStart);
        await checkChat(model, ids);
        // The template's default system prompt when there is none.
        const userOnly: ChatMessage[] = [{ role: "user", content: "Hi" }];
        const text = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n";
        expect(promptIds(model, userOnly)).toEqual(tokenize(path.join(dirs.dreamTokenizer, "tokenizer.json"), text));
    });

    test("the tokenizer.json built from vocab.json + merges.txt encodes like the fast one", () => {
        const built = path.join(dirs.dreamOut, "tokenizer.json");
        const reference = path.join(dirs.dreamTokenizer, "tokenizer.json");
        for (const text of ["I'll say it's 42, isn't it?", "  spaces\n\nand\r\nlines\t", "Ünïcödé — 你好 🙂", "a<|mask|>b<|im_end|>"]) {
            expect(tokenize(built, text)).toEqual(tokenize(reference, text));
        }
    });
});

describe("export errors name what is wrong", () => {
    const failing = (checkpoint: string) => {
        const r = exportHf(checkpoint, path.join(work, "never", "model.pt"), ["--dtype", "float32", "--device", "cpu", "--parity-prompts", "0"]);
        expect(r.status).toBe(1);
        return r.stderr;
    };
    const copy = (from: string, name: string) => {
        const to = path.join(work, name);
        cpSync(from, to, { recursive: true });
        return to;
    };
    const editConfig = (folder: string, edit: (c: Record<string, unknown>) => void) => {
        const file = path.join(folder, "config.json");
        const c = readJson(file);
        edit(c);
        writeFileSync(file, JSON.stringify(c, null, 2));
    };

    test("unsupported architecture", () => {
        const dir = copy(dirs.llada, "llama");
        editConfig(dir, (c) => {
            c.model_type = "llama";
            c.architectures = ["LlamaForCausalLM"];
        });
        expect(failing(dir)).toMatch(/unsupported architecture: model_type 'llama'.*LLaDAModelLM.*DreamModel/s);
    });

    test("unsupported option of a supported family, naming the config key", () => {
        const dir = copy(dirs.dream, "dream-yarn");
        editConfig(dir, (c) => {
            c.rope_scaling = { type: "yarn", factor: 4 };
        });
        expect(failing(dir)).toMatch(/rope_scaling is \{.*yarn.*localleap supports only None/);
    });

    test("a missing shard", () => {
        const dir = copy(dirs.llada, "missing-shard");
        unlinkSync(path.join(dir, "model-00002-of-00003.safetensors"));
        expect(failing(dir)).toMatch(/shard model-00002-of-00003\.safetensors is missing.*model\.transformer\./s);
    });

    test("a shape that does not match config.json names the tensor", () => {
        const dir = copy(dirs.llada, "bad-shape");
        editConfig(dir, (c) => {
            c.mlp_hidden_size = 96;
        });
        expect(failing(dir)).toMatch(/tensor 'model\.transformer\.blocks\.0\.ff_proj\.weight' has shape \[128, 64\], config\.json implies \[96, 64\]/);
    });

    test("a tensor the family does not have", () => {
        const dir = copy(dirs.dream, "dream-no-bias");
        editConfig(dir, (c) => {
            c.attention_bias = false;
        });
        expect(failing(dir)).toMatch(/6 tensors a dream checkpoint with this config\.json does not have: model\.layers\.0\.self_attn\.k_proj\.bias, model\.layers\.0\.self_attn\.q_proj\.bias/);
    });

    test("a folder without config.json", () => {
        const dir = copy(dirs.llada, "no-config");
        unlinkSync(path.join(dir, "config.json"));
        expect(failing(dir)).toMatch(/no config\.json, so this is not a Hugging Face checkpoint folder/);
    });
});
