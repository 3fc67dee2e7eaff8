import type { ModelInfo } from "../../model";

/** The text `localleap info --model` prints about a loaded model. */
export function formatModelInfo(info: ModelInfo): string {
    const m = info.metadata;
    const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
    return [
        `model: ${info.path}`,
        `  ${m.name} (${m.architecture}), vocab ${m.vocabSize}, maxLength ${m.maxLength}, ${m.attention} attention`,
        `  mask ${m.maskId}, eos ${m.eosId}, end ids [${m.endIds.join(", ")}], logits shifted: ${m.logitsShifted ? "yes" : "no"}`,
        `  device ${info.device}, dtype ${info.dtype}, parameters ${mib(info.parameterBytes)}, file ${mib(info.fileBytes)}`,
        info.kvCache === null
            ? `  format v${m.formatVersion}: no KV cache (cache none only; re-export for prefix/dual)`
            : `  format v${m.formatVersion}: KV cache ${info.kvCache.layers} layers x ${info.kvCache.kvHeads} kv heads x ${info.kvCache.headDim}, ` +
              `${info.kvCache.bytesPerPosition} bytes per position per row (${mib(info.kvCache.bytesPerRowAtMaxLength)} per row at maxLength), default cache ${info.defaultCache}`,
        `  tokenizer: ${info.tokenizerSource ?? "none (token-id input only)"}, chat template: ${info.hasChatTemplate ? "yes" : "no"}`,
    ].join("\n");
}
