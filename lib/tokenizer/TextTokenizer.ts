import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { TokenizerError } from "../errors";

/**
 * Largest tokenizer.json / tokenizer_config.json read from tokenizerPath: the same bound as an
 * archive's embedded entries. Parsing is synchronous on the JS thread (a 400 MB file blocked it
 * for seconds), so a bigger file is refused before it is read; real ones are under 20 MiB.
 */
export const MAX_TOKENIZER_FILE_BYTES = 64 * 1024 * 1024;

/** Reads a tokenizer file after checking its size; `missing` is the code when it cannot be read. */
async function readBounded(file: string): Promise<string> {
    const info = await stat(file).catch((error: NodeJS.ErrnoException) => {
        throw new TokenizerError("TOKENIZER_MISSING", `cannot read ${file} (${error.code ?? error.message})`, { cause: error });
    });
    if (!info.isFile()) throw new TokenizerError("TOKENIZER_MISSING", `${file} is not a file`);
    if (info.size > MAX_TOKENIZER_FILE_BYTES) {
        throw new TokenizerError("TOKENIZER_INVALID", `${file} is ${info.size} bytes, over the ${MAX_TOKENIZER_FILE_BYTES} byte (64 MiB) limit on tokenizer files: it was not read`);
    }
    return readFile(file, "utf8").catch((error: NodeJS.ErrnoException) => {
        throw new TokenizerError("TOKENIZER_MISSING", `cannot read ${file} (${error.code ?? error.message})`, { cause: error });
    });
}

/** The parts of tokenizer_config.json localleap reads; other keys are passed to the tokenizer as they are. */
interface TokenizerConfig {
    chat_template?: unknown;
    bos_token?: unknown;
    eos_token?: unknown;
    [key: string]: unknown;
}

/**
 * A Hugging Face tokenizer (tokenizer.json + tokenizer_config.json) through
 * @huggingface/tokenizers: encode, decode, special-token lookup and the config's chat template.
 */
export class TextTokenizer {
    /** Where the files came from, for messages. */
    readonly source: string;
    /** Texts of the special added tokens (e.g. "<|eot_id|>"): in user text they stay text. */
    readonly specialTexts: readonly string[];
    private readonly tokenizer: Tokenizer;
    private readonly config: TokenizerConfig;
    private readonly json: Record<string, unknown>;
    /** The same tokenizer without its special added tokens, built on first use. */
    private plain: Tokenizer | undefined;
    private readonly specialIds: ReadonlySet<number>;

    private constructor(tokenizer: Tokenizer, json: Record<string, unknown>, config: TokenizerConfig, source: string) {
        this.tokenizer = tokenizer;
        this.json = json;
        this.config = config;
        this.source = source;
        const special = addedTokens(json).filter((t) => t.special === true && typeof t.content === "string" && t.content !== "");
        this.specialTexts = special.map((t) => t.content as string);
        this.specialIds = new Set(special.map((t) => t.id).filter((id): id is number => typeof id === "number"));
    }

    /** From the texts of tokenizer.json and tokenizer_config.json ("" when there is no config). */
    static fromJson(tokenizerJson: string, tokenizerConfigJson: string, source: string): TextTokenizer {
        const tokenizer = parseJsonObject(tokenizerJson, `tokenizer.json (${source})`);
        const config = tokenizerConfigJson.trim() === "" ? {} : parseJsonObject(tokenizerConfigJson, `tokenizer_config.json (${source})`);
        try {
            return new TextTokenizer(new Tokenizer(tokenizer, config), tokenizer, config, source);
        } catch (error) {
            throw new TokenizerError("TOKENIZER_INVALID", `tokenizer.json (${source}) is not a tokenizer this library can build: ${(error as Error).message}`, {
                cause: error,
            });
        }
    }

    /** From a folder holding tokenizer.json (and optionally tokenizer_config.json), or a tokenizer.json path. */
    static async fromPath(tokenizerPath: string): Promise<TextTokenizer> {
        const resolved = path.resolve(tokenizerPath);
        const info = await stat(resolved).catch(() => null);
        if (info === null) {
            throw new TokenizerError("TOKENIZER_MISSING", `tokenizerPath ${resolved} does not exist`);
        }
        const jsonPath = info.isDirectory() ? path.join(resolved, "tokenizer.json") : resolved;
        const configPath = path.join(path.dirname(jsonPath), "tokenizer_config.json");
        const json = await readBounded(jsonPath);
        // The config is optional (a bare tokenizer.json still encodes and decodes), but bounded too.
        const hasConfig = (await stat(configPath).catch(() => null)) !== null;
        const configJson = hasConfig ? await readBounded(configPath) : "";
        return TextTokenizer.fromJson(json, configJson, jsonPath);
    }

    /** Token ids of `text`; `addSpecial` lets the tokenizer's post-processor add its special tokens. */
    encode(text: string, addSpecial = false): number[] {
        return this.tokenizer.encode(text, { add_special_tokens: addSpecial }).ids;
    }

    /**
     * Token ids of `text` with special-token texts encoded as the plain text they spell, never as
     * the special tokens. Throws TOKENIZER_INVALID for a tokenizer that cannot do that (one whose
     * vocabulary maps the text straight to the special id).
     */
    encodePlain(text: string): number[] {
        this.plain ??= new Tokenizer({ ...this.json, added_tokens: addedTokens(this.json).filter((t) => t.special !== true) }, this.config);
        const ids = this.plain.encode(text, { add_special_tokens: false }).ids;
        if (ids.some((id) => this.specialIds.has(id))) {
            throw new TokenizerError("TOKENIZER_INVALID", `the tokenizer (${this.source}) encodes the text ${JSON.stringify(text)} as a special token even without its added tokens`, {
                hint: "remove that text from the prompt, or pass specialTokens: true if you mean the special token",
            });
        }
        return ids;
    }

    /**
     * Text of `ids`, special tokens skipped. Ids the tokenizer does not know (a model's vocab is
     * often padded past the tokenizer's) are dropped; the library throws on an empty list.
     */
    decode(ids: readonly number[]): string {
        const known = ids.filter((id) => this.tokenizer.id_to_token(id) !== undefined);
        return known.length === 0 ? "" : this.tokenizer.decode(known, { skip_special_tokens: true });
    }

    /** Id of a token's text (special tokens included), undefined when it is not in the vocabulary. */
    tokenToId(token: string): number | undefined {
        return this.tokenizer.token_to_id(token);
    }

    /** Text of a token id, undefined when it is not in the vocabulary. */
    idToToken(id: number): string | undefined {
        return this.tokenizer.id_to_token(id);
    }

    /** tokenizer_config.json's chat_template (the "default" one when it is a list), null when absent. */
    get chatTemplate(): string | null {
        const template = this.config.chat_template;
        if (typeof template === "string") return template;
        if (Array.isArray(template)) {
            const named = template.find((t: { name?: unknown }) => t?.name === "default") ?? template[0];
            return typeof named?.template === "string" ? named.template : null;
        }
        return null;
    }

    /** tokenizer_config.json's bos_token text, null when absent. */
    get bosToken(): string | null {
        return tokenText(this.config.bos_token);
    }

    /** tokenizer_config.json's eos_token text, null when absent. */
    get eosToken(): string | null {
        return tokenText(this.config.eos_token);
    }
}

/** tokenizer.json's added_tokens entries. */
function addedTokens(json: Record<string, unknown>): { id?: unknown; content?: unknown; special?: unknown }[] {
    const list = json.added_tokens;
    return Array.isArray(list) ? list.filter((t): t is Record<string, unknown> => t !== null && typeof t === "object") : [];
}

/** Special tokens appear either as text or as an AddedToken object with `content`. */
function tokenText(value: unknown): string | null {
    if (typeof value === "string") return value;
    if (value !== null && typeof value === "object" && typeof (value as { content?: unknown }).content === "string") {
        return (value as { content: string }).content;
    }
    return null;
}

function parseJsonObject(text: string, what: string): Record<string, unknown> {
    let value: unknown;
    try {
        value = JSON.parse(text);
    } catch (error) {
        throw new TokenizerError("TOKENIZER_INVALID", `${what} is not valid JSON (${(error as Error).message})`, { cause: error });
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
        throw new TokenizerError("TOKENIZER_INVALID", `${what} is not a JSON object`);
    }
    return value as Record<string, unknown>;
}
