import { CHAT_TEMPLATE, SPECIAL, SPECIAL_TEXT, VOCAB_SIZE } from "./byteLevelTokenizer";

/** A valid localleap.json for the test tokenizer's vocabulary. */
export function validMetadata(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return {
        format: "localleap",
        formatVersion: 1,
        name: "test-tiny",
        architecture: "llada",
        vocabSize: VOCAB_SIZE,
        maskId: SPECIAL.mask,
        eosId: SPECIAL.eos,
        endIds: [SPECIAL.eos, SPECIAL.eot],
        padId: SPECIAL.eos,
        logitsShifted: false,
        maxLength: 64,
        dtype: "float32",
        attention: "manual",
        config: { vocab_size: VOCAB_SIZE, hidden_size: 8 },
        chatTemplate: CHAT_TEMPLATE,
        addBos: true,
        bosToken: SPECIAL_TEXT.bos,
        exporter: { tool: "test" },
        ...overrides,
    };
}
