import { ApdVocabMismatchError } from "../errors";

/** The metadata fields the vocabulary check reads. */
export interface VocabSide {
    vocabSize: number;
    maskId?: number;
    eosId: number;
    endIds: readonly number[];
}

type TokenizerJson = { model?: { type?: unknown; vocab?: unknown; merges?: unknown }; added_tokens?: unknown };

/** {token text: id} of a tokenizer.json: the model's vocab, then its added tokens (tools/localleap/metadata.py tokenizer_tokens). */
function tokenizerTokens(tok: TokenizerJson): Map<string, number> {
    const out = new Map<string, number>();
    const vocab = tok.model?.vocab;
    if (Array.isArray(vocab)) {
        vocab.forEach((piece, i) => {
            if (Array.isArray(piece) && piece.length > 0) out.set(String(piece[0]), i);
        });
    } else if (vocab !== null && typeof vocab === "object") {
        for (const [text, id] of Object.entries(vocab as Record<string, unknown>)) if (typeof id === "number") out.set(text, id);
    }
    for (const [text, id] of addedTokens(tok)) out.set(text, id);
    return out;
}

function addedTokens(tok: TokenizerJson): Map<string, number> {
    const out = new Map<string, number>();
    if (!Array.isArray(tok.added_tokens)) return out;
    for (const t of tok.added_tokens as unknown[]) {
        if (t !== null && typeof t === "object") {
            const { content, id } = t as { content?: unknown; id?: unknown };
            if (typeof content === "string" && Number.isInteger(id)) out.set(content, id as number);
        }
    }
    return out;
}

function merges(tok: TokenizerJson): string[] {
    const list = tok.model?.merges;
    if (!Array.isArray(list)) return [];
    return list.map((m) => (typeof m === "string" ? m : Array.isArray(m) ? m.join(" ") : String(m)));
}

function parse(json: string): TokenizerJson | null {
    if (json.trim() === "") return null;
    try {
        const value = JSON.parse(json) as unknown;
        return value !== null && typeof value === "object" ? (value as TokenizerJson) : null;
    } catch {
        return null;
    }
}

/** A string as Python's repr() writes it (the reference's messages quote token texts with it). */
function quote(text: string): string {
    const q = text.includes("'") && !text.includes('"') ? '"' : "'";
    let out = "";
    for (const ch of text) {
        const code = ch.codePointAt(0)!;
        if (ch === "\\") out += "\\\\";
        else if (ch === q) out += "\\" + q;
        else if (ch === "\n") out += "\\n";
        else if (ch === "\r") out += "\\r";
        else if (ch === "\t") out += "\\t";
        else if (code < 0x20 || code === 0x7f) out += "\\x" + code.toString(16).padStart(2, "0");
        else out += ch;
    }
    return q + out + q;
}

const typeName = (value: unknown) => (typeof value === "string" ? quote(value) : value === undefined || value === null ? "None" : JSON.stringify(value));

/**
 * APD's vocabulary check (docs/decoding.md "The vocabulary check"; tools/localleap/apd_reference.py
 * check_vocab, rule for rule): the width V' = min(dLLM vocabSize, AR vocabSize) of the logits APD
 * mixes, or an {@link ApdVocabMismatchError} naming the reason and the first difference.
 * The arguments are the two archives' embedded tokenizer.json texts ("" when absent).
 */
export function checkApdVocab(dllm: VocabSide, dllmTokenizer: string, ar: VocabSide, arTokenizer: string): number {
    const d = parse(dllmTokenizer);
    const a = parse(arTokenizer);
    for (const [who, tok] of [["the dLLM", d], ["the AR model", a]] as const) {
        if (tok === null) {
            throw new ApdVocabMismatchError("no-tokenizer",
                `${who}'s archive has no tokenizer.json, so it cannot be checked that both models share one vocabulary (re-export it with its tokenizer embedded)`);
        }
    }
    const dt = d as TokenizerJson, at = a as TokenizerJson;
    const dType = dt.model?.type, aType = at.model?.type;
    if (dType !== aType) throw new ApdVocabMismatchError("tokenizer", `the dLLM's tokenizer is ${typeName(dType)}, the AR model's ${typeName(aType)}`);
    if (dType === "BPE") {
        const dm = merges(dt), am = merges(at);
        let k = 0;
        while (k < dm.length && k < am.length && dm[k] === am[k]) k++;
        if (k < dm.length || k < am.length) {
            throw new ApdVocabMismatchError("tokenizer", `the BPE merges differ (${dm.length} and ${am.length} merges, first difference at merge ${k})`);
        }
    }
    const dMap = tokenizerTokens(dt), aMap = tokenizerTokens(at);
    for (const [text, id] of [...aMap].sort((x, y) => x[1] - y[1])) {
        const j = dMap.get(text);
        if (j !== id) {
            const where = j === undefined ? "is not in the dLLM's tokenizer" : `is id ${j} in the dLLM's tokenizer`;
            throw new ApdVocabMismatchError("tokenizer", `the AR model's token ${quote(text)} (id ${id}) ${where}`);
        }
    }
    const dAdded = addedTokens(dt);
    const aIds = new Set(aMap.values());
    const extra = [...dMap].filter(([text]) => !aMap.has(text)).sort((x, y) => x[1] - y[1] || (x[0] < y[0] ? -1 : 1));
    const plain = extra.filter(([text]) => !dAdded.has(text));
    if (plain.length > 0) {
        throw new ApdVocabMismatchError("tokenizer",
            `the dLLM's tokenizer has ${plain.length} tokens the AR model's lacks, e.g. ${quote(plain[0]![0])} (id ${plain[0]![1]}): not the same vocabulary`);
    }
    const clash = extra.find(([, id]) => aIds.has(id));
    if (clash !== undefined) {
        throw new ApdVocabMismatchError("tokenizer", `the dLLM's token ${quote(clash[0])} has id ${clash[1]}, which is another token in the AR model's tokenizer`);
    }
    const width = Math.min(dllm.vocabSize, ar.vocabSize);
    const outside = [...dMap].sort((x, y) => x[1] - y[1]).find(([, id]) => id >= width && id !== dllm.maskId);
    if (outside !== undefined) {
        throw new ApdVocabMismatchError("width",
            `the dLLM's token ${quote(outside[0])} (id ${outside[1]}) is outside the AR model's ${ar.vocabSize} logits: APD mixes over ids below min(${dllm.vocabSize}, ${ar.vocabSize}) = ${width}`);
    }
    for (const [name, ids] of [["eosId", [dllm.eosId]], ["endIds", dllm.endIds]] as const) {
        const bad = ids.find((id) => id >= width);
        if (bad !== undefined) throw new ApdVocabMismatchError("width", `the dLLM's ${name} ${bad} is outside the shared ${width} logits`);
    }
    return width;
}
