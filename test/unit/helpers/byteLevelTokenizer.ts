/**
 * A tiny byte-level BPE tokenizer.json (GPT-2 style byte alphabet, a few merges) with special
 * tokens, built in memory so that tokenizer tests need no download.
 */

/** GPT-2's bytes_to_unicode: printable stand-ins for every byte. */
function bytesToUnicode(): Map<number, string> {
    const printable: number[] = [];
    for (let b = 33; b <= 126; b++) printable.push(b);
    for (let b = 161; b <= 172; b++) printable.push(b);
    for (let b = 174; b <= 255; b++) printable.push(b);
    const map = new Map<number, string>();
    for (const b of printable) map.set(b, String.fromCodePoint(b));
    let n = 0;
    for (let b = 0; b < 256; b++) {
        if (!map.has(b)) map.set(b, String.fromCodePoint(256 + n++));
    }
    return map;
}

export const SPECIAL = { bos: 300, eos: 301, mask: 302, eot: 303, user: 304, assistant: 305 } as const;
export const SPECIAL_TEXT: Record<keyof typeof SPECIAL, string> = {
    bos: "<|bos|>",
    eos: "<|eos|>",
    mask: "<|mask|>",
    eot: "<|eot|>",
    user: "<|user|>",
    assistant: "<|assistant|>",
};
/** Model vocab: bytes, merges and specials fit below this. */
export const VOCAB_SIZE = 320;

export const CHAT_TEMPLATE =
    "{{ bos_token }}{% for m in messages %}" +
    "{% if m['role'] == 'system' and not loop.first %}{{ raise_exception('system message must come first') }}{% endif %}" +
    "<|{{ m['role'] }}|>{{ m['content'] }}<|eot|>{% endfor %}" +
    "{% if add_generation_prompt %}<|assistant|>{% endif %}";

export function byteLevelTokenizerJson(): Record<string, unknown> {
    const bytes = bytesToUnicode();
    const vocab: Record<string, number> = {};
    for (let b = 0; b < 256; b++) vocab[bytes.get(b) as string] = b;
    const merges: [string, string][] = [["h", "e"], ["l", "l"], ["he", "ll"], ["hell", "o"], ["Ġ", "w"]];
    let id = 256;
    for (const [a, b] of merges) vocab[a + b] = id++;
    const addedTokens = (Object.keys(SPECIAL) as (keyof typeof SPECIAL)[]).map((key) => ({
        id: SPECIAL[key],
        content: SPECIAL_TEXT[key],
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
    }));
    return {
        version: "1.0",
        truncation: null,
        padding: null,
        added_tokens: addedTokens,
        normalizer: null,
        pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
        post_processor: { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: true },
        decoder: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
        model: {
            type: "BPE",
            dropout: null,
            unk_token: null,
            continuing_subword_prefix: null,
            end_of_word_suffix: null,
            fuse_unk: false,
            byte_fallback: false,
            ignore_merges: false,
            vocab,
            merges: merges.map(([a, b]) => `${a} ${b}`),
        },
    };
}

export function tokenizerConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { bos_token: SPECIAL_TEXT.bos, eos_token: { content: SPECIAL_TEXT.eos }, chat_template: CHAT_TEMPLATE, ...extra };
}
