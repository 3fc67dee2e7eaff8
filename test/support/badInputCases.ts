// The rows of test/reliability/badInput.test.ts: what is done wrong, and the code it must give.
import { mkdirSync, writeFileSync } from "node:fs";
import { loadModel, type LocalleapErrorCode, type Model } from "../../lib";

/** What the cases run against; filled in by the test's beforeAll. */
export interface BadInputContext {
    dir: string;
    fixture: string;
    /** An archive written by make_hostile_archives.py. */
    hostile(name: string): string;
    /** An archive with an edited localleap.json (the test's METADATA_EDITS). */
    metadataVariant(name: string): string;
    /** Writes a file into dir and returns its path. */
    write(name: string, data: string | Buffer): string;
    tokenizerJson: string;
    truncated: string;
    /** The shared fixture model (never disposed by a case). */
    model(): Model;
}

export interface BadInputCase {
    group: "generate options" | "inputs" | "loadModel options" | "archives" | "metadata" | "tokenizers" | "lifecycle";
    name: string;
    code: LocalleapErrorCode;
    run(ctx: BadInputContext): unknown;
}

const PROMPT = [5, 6, 7];
const VOCAB = 300;
const MASK = 297;

function throwing(): never {
    throw new Error("hostile getter");
}

/** Values that are the wrong type for every option: each gives INVALID_OPTIONS. */
const WRONG_TYPES: [string, unknown][] = [["a string", "x"], ["an object", {}], ["an array", [1]], ["null", null]];

function generateOptionCases(): BadInputCase[] {
    const out: BadInputCase[] = [];
    const add = (name: string, options: unknown, prompt: unknown = PROMPT) =>
        out.push({ group: "generate options", name, code: "INVALID_OPTIONS", run: (c) => c.model().generate(prompt as number[], options as never) });
    const badValues: Record<string, [string, unknown][]> = {
        genLength: [["0", 0], ["-1", -1], ["1.5", 1.5], ["NaN", NaN], ["Infinity", Infinity], ["65537", 65537], ["a numeric string", "8"], ["true", true]],
        blockLength: [["0", 0], ["-4", -4], ["3 (does not divide 8)", 3], ["1.5", 1.5], ["NaN", NaN]],
        strategy: [['"greedy"', "greedy"], ['"LOCALLEAP"', "LOCALLEAP"], ['""', ""], ["1", 1]],
        threshold: [["-0.1", -0.1], ["1.1", 1.1], ["NaN", NaN]],
        anchorThreshold: [["2", 2], ["-1", -1]],
        relaxedThreshold: [["-1", -1], ["0.95 over anchorThreshold 0.9", 0.95]],
        radius: [["-1", -1], ["1.5", 1.5], ["65537", 65537]],
        temperature: [["-1", -1], ["0.0001 (under the minimum)", 0.0001], ["Infinity", Infinity], ["NaN", NaN]],
        seed: [["-1", -1], ["1.5", 1.5], ["2^53", 2 ** 53], ["NaN", NaN]],
        stopAtEos: [["1", 1]],
        endOfText: [["1", 1], ['"yes"', "yes"]],
        cudaGraph: [["0", 0]],
        signal: [["a look-alike", { aborted: false, addEventListener() {} }]],
        onStep: [["5", 5]],
        onTextChunk: [["5", 5]],
        maskGlyph: [["5", 5]],
        raw: [["1", 1]],
        specialTokens: [["1", 1]],
        stop: [['""', ""], ['[""]', [""]], ["17 strings", Array.from({ length: 17 }, () => "a")], ["5", 5], ["[5]", [5]]],
        maxTokens: [["0", 0], ["9 over genLength 8", 9], ["1.5", 1.5]],
    };
    const strategyOf: Record<string, string> = { threshold: "threshold", anchorThreshold: "localleap", relaxedThreshold: "localleap", radius: "localleap" };
    for (const [field, values] of Object.entries(badValues)) {
        // A string is right for maskGlyph and stop; the other wrong types are wrong for every field.
        const wrongTypes = field === "maskGlyph" || field === "stop" ? WRONG_TYPES.slice(1) : WRONG_TYPES.slice(0, 1);
        for (const [label, value] of [...values, ...wrongTypes]) {
            const base: Record<string, unknown> = { genLength: 8, blockLength: 8 };
            if (strategyOf[field] !== undefined) base.strategy = strategyOf[field];
            if (field === "relaxedThreshold" && value === 0.95) base.anchorThreshold = 0.9;
            if (field === "genLength" || field === "blockLength") delete base[field];
            add(`${field} ${label}`, { ...base, [field]: value });
        }
    }
    // Options of another strategy.
    add("steps with localleap", { genLength: 8, blockLength: 8, steps: 8 });
    add("steps with threshold", { genLength: 8, blockLength: 8, strategy: "threshold", steps: 8 });
    add("steps 0 with low-confidence", { genLength: 8, blockLength: 8, strategy: "low-confidence", steps: 0 });
    add("steps 3 with 2 blocks", { genLength: 8, blockLength: 4, strategy: "low-confidence", steps: 3 });
    add("steps over genLength", { genLength: 8, blockLength: 8, strategy: "random", steps: 16 });
    add("threshold with localleap", { genLength: 8, blockLength: 8, threshold: 0.5 });
    add("threshold with random", { genLength: 8, blockLength: 8, strategy: "random", threshold: 0.5 });
    add("anchorThreshold with threshold", { genLength: 8, blockLength: 8, strategy: "threshold", anchorThreshold: 0.9 });
    add("relaxedThreshold with low-confidence", { genLength: 8, blockLength: 8, strategy: "low-confidence", relaxedThreshold: 0.5 });
    add("radius with threshold", { genLength: 8, blockLength: 8, strategy: "threshold", radius: 2 });
    // Unknown keys and options that are not a plain object.
    add("an unknown key", { genLength: 8, foo: 1 });
    add("a misspelt key (genlength)", { genlength: 8 });
    add("a snake_case key (gen_length)", { gen_length: 8 });
    add("options an array", [8]);
    add("options a function", () => 8);
    add("options a number", 8);
    add("options a string", "genLength: 8");
    add("options true", true);
    add("a throwing getter", { get genLength(): number { return throwing(); } });
    add("a Proxy whose get throws", new Proxy({ genLength: 8 }, { get: throwing }));
    add("a Proxy whose ownKeys throws", new Proxy({ genLength: 8 }, { ownKeys: throwing }));
    add("a Proxy whose getPrototypeOf throws", new Proxy({ genLength: 8 }, { getPrototypeOf: throwing }));
    add("a Proxy whose getOwnPropertyDescriptor throws", new Proxy({ genLength: 8 }, { getOwnPropertyDescriptor: throwing }));
    add("a revoked Proxy", (() => { const p = Proxy.revocable({}, {}); p.revoke(); return p.proxy; })());
    out.push({ group: "generate options", name: "stream() with a bad genLength", code: "INVALID_OPTIONS", run: async (c) => {
        for await (const _ of c.model().stream(PROMPT, { genLength: -1 })) void _;
    } });
    return out;
}

function inputCases(): BadInputCase[] {
    const out: BadInputCase[] = [];
    const add = (name: string, input: unknown, code: LocalleapErrorCode = "INVALID_INPUT", options: object = { genLength: 8, blockLength: 8 }) =>
        out.push({ group: "inputs", name, code, run: (c) => c.model().generate(input as number[], options) });
    add("an empty string", "");
    add("an empty array", []);
    add("an empty Int32Array", new Int32Array(0));
    add("a number", 5);
    add("null", null);
    add("undefined", undefined);
    add("true", true);
    add("an object", { text: "hi" });
    add("a function", () => "hi");
    add("a symbol", Symbol("prompt"));
    add("a Map", new Map());
    add("a Buffer", Buffer.from("hello"));
    add("a Float32Array", new Float32Array([5, 6]));
    add("the vocab size as an id", [VOCAB]);
    add("a huge token id (2^31)", [2 ** 31]);
    add("a token id past MAX_SAFE_INTEGER", [2 ** 60]);
    add("a negative token id", [-1]);
    add("NaN as an id", [NaN]);
    add("Infinity as an id", [Infinity]);
    add("1.5 as an id", [1.5]);
    add("the mask id", [5, MASK, 6]);
    add("an Int32Array with a negative id", new Int32Array([5, -5]));
    add("an Int32Array with the mask id", new Int32Array([MASK]));
    add("ids mixed with strings", [1, "a"]);
    add("ids mixed with null", [1, null]);
    add("a sparse array", [, 1]); // eslint-disable-line no-sparse-arrays
    add("a Proxy array whose get throws", new Proxy([1, 2], { get: throwing }));
    add("messages with a bad role", [{ role: "robot", content: "hi" }]);
    add("messages with role 'tool'", [{ role: "tool", content: "hi" }]);
    add("messages with numeric content", [{ role: "user", content: 5 }]);
    add("messages with null content", [{ role: "user", content: null }]);
    add("messages with no content", [{ role: "user" }]);
    add("messages with no role", [{ content: "hi" }]);
    add("messages with array content", [{ role: "user", content: ["hi"] }]);
    add("a message whose content getter throws", [{ role: "user", get content(): string { return throwing(); } }]);
    add("messages mixed with ids", [{ role: "user", content: "hi" }, 5]);
    add("a batch with an empty string row", ["hello", ""]);
    add("a batch with a bad id row", [[5, 6], [VOCAB]]);
    add("a batch with a mask-id row", ["hello", [MASK]]);
    add("a batch with an empty row", [[5, 6], []]);
    add("a text prompt past maxLength x 32 characters", "a".repeat(512 * 33), "PROMPT_TOO_LONG");
    add("600 token ids (maxLength 512)", Array.from({ length: 600 }, () => 5), "PROMPT_TOO_LONG");
    add("prompt + genLength over maxLength", PROMPT, "PROMPT_TOO_LONG", { genLength: 512, blockLength: 32 });
    add("a batch with one row too long", [[5], Array.from({ length: 510 }, () => 5)], "PROMPT_TOO_LONG");
    add("a message far longer than the model", [{ role: "user", content: "b".repeat(512 * 40) }], "PROMPT_TOO_LONG");
    add("10,000 rows x genLength 64", Array.from({ length: 10000 }, () => [5, 6]), "INVALID_INPUT", { genLength: 64, blockLength: 32 });
    out.push({ group: "inputs", name: "tokenize() of a number", code: "INVALID_INPUT", run: (c) => c.model().tokenize(5 as never) });
    out.push({ group: "inputs", name: "tokenize() of null", code: "INVALID_INPUT", run: (c) => c.model().tokenize(null as never) });
    out.push({ group: "inputs", name: "detokenize() of [-1]", code: "INVALID_INPUT", run: (c) => c.model().detokenize([-1]) });
    out.push({ group: "inputs", name: "detokenize() of [1.5]", code: "INVALID_INPUT", run: (c) => c.model().detokenize([1.5]) });
    out.push({ group: "inputs", name: "detokenize() of a string", code: "INVALID_INPUT", run: (c) => c.model().detokenize("abc" as never) });
    out.push({ group: "inputs", name: "detokenize() of null", code: "INVALID_INPUT", run: (c) => c.model().detokenize(null as never) });
    out.push({ group: "inputs", name: "countTokens() of a number", code: "INVALID_INPUT", run: (c) => c.model().countTokens(5 as never) });
    out.push({ group: "inputs", name: "countTokens() of bad messages", code: "INVALID_INPUT", run: (c) => c.model().countTokens([{ role: "x", content: "y" }] as never) });
    out.push({ group: "inputs", name: "stream() of an empty string", code: "INVALID_INPUT", run: async (c) => {
        for await (const _ of c.model().stream("", { genLength: 8, blockLength: 8 })) void _;
    } });
    return out;
}

function loadOptionCases(): BadInputCase[] {
    const out: BadInputCase[] = [];
    const add = (name: string, options: (c: BadInputContext) => unknown, code: LocalleapErrorCode = "INVALID_OPTIONS") =>
        out.push({ group: "loadModel options", name, code, run: (c) => loadModel(options(c) as never) });
    add("modelPath empty", () => ({ modelPath: "" }));
    add("modelPath a number", () => ({ modelPath: 5 }));
    add("modelPath missing file", (c) => ({ modelPath: `${c.dir}/nothing-here.pt`, device: "cpu" }), "MODEL_NOT_FOUND");
    add("modelPath a folder without model.pt", (c) => ({ modelPath: `${c.dir}/empty-folder`, device: "cpu" }), "MODEL_NOT_FOUND");
    add("modelPath under a file", (c) => ({ modelPath: `${c.fixture}/model.pt`, device: "cpu" }), "MODEL_NOT_FOUND");
    add('device "gpu"', (c) => ({ modelPath: c.fixture, device: "gpu" }));
    add('device "CUDA"', (c) => ({ modelPath: c.fixture, device: "CUDA" }));
    add('device "cuda:1" on the CPU build', (c) => ({ modelPath: c.fixture, device: "cuda:1" }), "CUDA_UNAVAILABLE");
    add('device "cuda:01"', (c) => ({ modelPath: c.fixture, device: "cuda:01" }));
    add('device "cuda:-1"', (c) => ({ modelPath: c.fixture, device: "cuda:-1" }));
    add('device "cuda" on the CPU build', (c) => ({ modelPath: c.fixture, device: "cuda" }), "CUDA_UNAVAILABLE");
    add("device 0", (c) => ({ modelPath: c.fixture, device: 0 }));
    add("threads -1", (c) => ({ modelPath: c.fixture, threads: -1 }));
    add("threads 1.5", (c) => ({ modelPath: c.fixture, threads: 1.5 }));
    add("threads 2000", (c) => ({ modelPath: c.fixture, threads: 2000 }));
    add('threads "4"', (c) => ({ modelPath: c.fixture, threads: "4" }));
    add("threads NaN", (c) => ({ modelPath: c.fixture, threads: NaN }));
    add("maxQueuedGenerations 0", (c) => ({ modelPath: c.fixture, maxQueuedGenerations: 0 }));
    add("maxQueuedGenerations -1", (c) => ({ modelPath: c.fixture, maxQueuedGenerations: -1 }));
    add("maxQueuedGenerations 10^6", (c) => ({ modelPath: c.fixture, maxQueuedGenerations: 1e6 }));
    add("maxQueuedGenerations 2.5", (c) => ({ modelPath: c.fixture, maxQueuedGenerations: 2.5 }));
    add('trustModelCode "yes"', (c) => ({ modelPath: c.fixture, trustModelCode: "yes" }));
    add("signal a look-alike", (c) => ({ modelPath: c.fixture, signal: { aborted: false } }));
    add("onProgress a string", (c) => ({ modelPath: c.fixture, onProgress: "log" }));
    add("an unknown key", (c) => ({ modelPath: c.fixture, model: "x" }));
    add("options an array", () => ["model.pt"]);
    add("options a string", () => "model.pt");
    add("options a throwing getter", () => ({ get modelPath(): string { return throwing(); } }));
    add("options a Proxy whose ownKeys throws", () => new Proxy({}, { ownKeys: throwing }));
    add("an already aborted signal", (c) => ({ modelPath: c.fixture, device: "cpu", signal: AbortSignal.abort() }), "ABORTED");
    add("tokenizerPath empty", (c) => ({ modelPath: c.fixture, tokenizerPath: "" }));
    add("tokenizerPath missing", (c) => ({ modelPath: c.fixture, device: "cpu", tokenizerPath: `${c.dir}/no-tokenizer` }), "TOKENIZER_MISSING");
    add("tokenizerPath a folder without tokenizer.json", (c) => ({ modelPath: c.fixture, device: "cpu", tokenizerPath: `${c.dir}/empty-folder` }), "TOKENIZER_MISSING");
    return out;
}

function archiveCases(): BadInputCase[] {
    const out: BadInputCase[] = [];
    const add = (name: string, file: (c: BadInputContext) => string, code: LocalleapErrorCode, options: object = {}) =>
        out.push({ group: "archives", name, code, run: (c) => loadModel({ modelPath: file(c), device: "cpu", ...options }) });
    add("an empty file", (c) => c.write("empty.pt", ""), "MODEL_CORRUPT");
    add("a text file", (c) => c.write("text.pt", "not a zip archive"), "MODEL_CORRUPT");
    add("random bytes", (c) => c.write("random.pt", Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256))), "MODEL_CORRUPT");
    add("the fixture cut in half", (c) => c.truncated, "MODEL_CORRUPT");
    add("a zip header only", (c) => c.write("header.pt", Buffer.from("PK\x03\x04", "binary")), "MODEL_CORRUPT");
    add("an empty zip", (c) => c.write("empty-zip.pt", Buffer.from("PK\x05\x06" + "\0".repeat(18), "binary")), "MODEL_CORRUPT");
    for (const [archive, code] of [
        ["save-in-forward", "MODEL_UNSAFE"],
        ["read-secret", "MODEL_UNSAFE"],
        ["overwrite-shared", "MODEL_UNSAFE"],
        ["write-in-setstate", "MODEL_UNSAFE"],
        ["set-input", "MODEL_UNSAFE"],
        ["custom-op", "MODEL_UNSAFE"],
        ["probe-raises", "MODEL_PROBE_FAILED"],
        ["int-logits", "MODEL_PROBE_FAILED"],
        ["missing-op", "MODEL_INCOMPATIBLE"],
        ["inflated-metadata", "MODEL_METADATA_INVALID"],
        ["inflated-tokenizer", "TOKENIZER_INVALID"],
        ["huge-vocab", "MODEL_METADATA_INVALID"],
    ] as const) {
        add(`hostile archive ${archive}`, (c) => c.hostile(archive), code);
    }
    return out;
}

function metadataCases(): BadInputCase[] {
    const codes: Record<string, LocalleapErrorCode> = { "metadata-bos-unknown": "TOKENIZER_INVALID", "metadata-vocab-mismatch": "MODEL_PROBE_FAILED" };
    return [
        "no-metadata", "metadata-not-json", "metadata-array", "metadata-wrong-format", "metadata-future-version", "metadata-vocab-string",
        "metadata-vocab-zero", "metadata-mask-outside", "metadata-eos-negative", "metadata-end-ids-empty", "metadata-max-length-one",
        "metadata-bad-dtype", "metadata-bad-architecture", "metadata-no-vocab", "metadata-bos-unknown", "metadata-vocab-mismatch",
    ].map((name) => ({
        group: "metadata" as const,
        name,
        code: codes[name] ?? "MODEL_METADATA_INVALID",
        run: (c: BadInputContext) => loadModel({ modelPath: c.metadataVariant(name), device: "cpu" }),
    }));
}

function tokenizerCases(): BadInputCase[] {
    const out: BadInputCase[] = [];
    const add = (name: string, files: (c: BadInputContext) => string, code: LocalleapErrorCode = "TOKENIZER_INVALID", run?: (model: Model) => unknown) =>
        out.push({
            group: "tokenizers",
            name,
            code,
            run: async (c) => {
                const model = await loadModel({ modelPath: c.fixture, device: "cpu", tokenizerPath: files(c) });
                if (run === undefined) return model;
                try {
                    return await run(model);
                } finally {
                    await model.dispose();
                }
            },
        });
    const folder = (c: BadInputContext, name: string, config: unknown, json?: string) => {
        const tokenizerJson = json ?? c.tokenizerJson;
        const sub = `${c.dir}/${name}`;
        mkdirSync(sub, { recursive: true });
        writeFileSync(`${sub}/tokenizer.json`, tokenizerJson);
        if (config !== undefined) writeFileSync(`${sub}/tokenizer_config.json`, typeof config === "string" ? config : JSON.stringify(config));
        return sub;
    };
    add("tokenizer.json not JSON", (c) => c.write("broken.json", "{ nope"));
    add("tokenizer.json an array", (c) => c.write("array.json", "[]"));
    add("tokenizer.json a number", (c) => c.write("number.json", "42"));
    add("tokenizer.json an empty object", (c) => c.write("empty-object.json", "{}"));
    add("tokenizer.json an empty file", (c) => c.write("empty.json", ""));
    add("tokenizer.json with a model of unknown type", (c) => c.write("unknown-model.json", JSON.stringify({ ...JSON.parse(c.tokenizerJson), model: { type: "Nope" } })));
    add("tokenizer_config.json not JSON", (c) => folder(c, "config-broken", "{ nope"));
    add("tokenizer_config.json an array", (c) => folder(c, "config-array", "[1]"));
    add("a chat template that does not parse", (c) => folder(c, "template-broken", { chat_template: "{% for m in messages %}{{ m.content " }));
    add("a chat template that raises for these messages", (c) => folder(c, "template-raises", { chat_template: "{{ raise_exception('no user turns allowed') }}" }),
        "INVALID_INPUT", (m) => m.generate("hello", { genLength: 8, blockLength: 8 }));
    add("a chat template calling an unknown function", (c) => folder(c, "template-unknown-fn", { chat_template: "{{ nope() }}" }),
        "TOKENIZER_INVALID", (m) => m.generate("hello", { genLength: 8, blockLength: 8 }));
    add("a chat template that renders nothing", (c) => folder(c, "template-empty", { chat_template: "{% if false %}x{% endif %}" }),
        "INVALID_INPUT", (m) => m.generate("hello", { genLength: 8, blockLength: 8 }));
    add("a chat template of nested loops", (c) => folder(c, "template-loops", {
        chat_template: "{% for a in range(100000) %}{% for b in range(100000) %}{% for d in range(100000) %}x{% endfor %}{% endfor %}{% endfor %}",
    }), "TOKENIZER_INVALID", (m) => m.generate("hello", { genLength: 8, blockLength: 8 }));
    add("a tokenizer.json over 64 MiB", (c) => c.write("huge.json", Buffer.alloc(65 * 1024 * 1024 + 1, 0x20)));
    return out;
}

function lifecycleCases(): BadInputCase[] {
    const disposed = async (c: BadInputContext) => {
        const model = await loadModel({ modelPath: c.fixture, device: "cpu" });
        await model.dispose();
        return model;
    };
    const add = (name: string, run: (c: BadInputContext) => unknown, code: LocalleapErrorCode = "MODEL_DISPOSED") =>
        out.push({ group: "lifecycle", name, code, run });
    const out: BadInputCase[] = [];
    add("generate() after dispose", async (c) => (await disposed(c)).generate(PROMPT, { genLength: 8, blockLength: 8 }));
    add("a batch after dispose", async (c) => (await disposed(c)).generate([PROMPT, PROMPT], { genLength: 8, blockLength: 8 }));
    add("stream() after dispose", async (c) => {
        for await (const _ of (await disposed(c)).stream(PROMPT, { genLength: 8, blockLength: 8 })) void _;
    });
    add("tokenize() after dispose", async (c) => (await disposed(c)).tokenize("hello"));
    add("detokenize() after dispose", async (c) => (await disposed(c)).detokenize([5, 6]));
    add("countTokens() after dispose", async (c) => (await disposed(c)).countTokens("hello"));
    add("generate() between dispose() and its settling", async (c) => {
        const model = await loadModel({ modelPath: c.fixture, device: "cpu" });
        const disposing = model.dispose();
        try {
            return await model.generate(PROMPT, { genLength: 8, blockLength: 8 });
        } finally {
            await disposing;
        }
    });
    add("a second dispose() then generate()", async (c) => {
        const model = await disposed(c);
        await model.dispose();
        return model.generate(PROMPT, { genLength: 8, blockLength: 8 });
    });
    add("a generation queued past maxQueuedGenerations", async (c) => {
        const model = await loadModel({ modelPath: c.fixture, device: "cpu", maxQueuedGenerations: 1 });
        const first = model.generate(PROMPT, { genLength: 64, blockLength: 32 });
        try {
            return await model.generate(PROMPT, { genLength: 8, blockLength: 8 });
        } finally {
            await first;
            await model.dispose();
        }
    }, "QUEUE_FULL");
    add("generate() with an aborted signal", (c) => c.model().generate(PROMPT, { genLength: 8, blockLength: 8, signal: AbortSignal.abort() }), "ABORTED");
    add("a generation aborted while running", (c) => {
        const controller = new AbortController();
        const running = c.model().generate(Array.from({ length: 64 }, () => PROMPT), { genLength: 256, blockLength: 32, signal: controller.signal });
        setTimeout(() => controller.abort(), 20);
        return running;
    }, "ABORTED");
    add("stream() with an aborted signal", async (c) => {
        for await (const _ of c.model().stream(PROMPT, { genLength: 8, blockLength: 8, signal: AbortSignal.abort() })) void _;
    }, "ABORTED");
    return out;
}

/** Every row of the table. */
export function badInputCases(): BadInputCase[] {
    return [...generateOptionCases(), ...inputCases(), ...loadOptionCases(), ...archiveCases(), ...metadataCases(), ...tokenizerCases(), ...lifecycleCases()];
}
