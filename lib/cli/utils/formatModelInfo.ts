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
        `  decoding defaults: ${formatDecodingDefaults(info)}`,
        `  learned filter: ${formatLearnedFilter(info)}`,
        `  tokenizer: ${info.tokenizerSource ?? "none (token-id input only)"}, chat template: ${info.hasChatTemplate ? "yes" : "no"}`,
    ].join("\n");
}

/** The model's decodingDefaults in one line, or what generate() falls back to. */
export function formatDecodingDefaults(info: Pick<ModelInfo, "decodingDefaults">): string {
    const d = info.decodingDefaults;
    if (d === null || (d.localleap === undefined && d.threshold === undefined)) return "built-in (localleap κ 0.9 τ 0.75 W 4, threshold θ 0.9)";
    const parts: string[] = [];
    if (d.localleap !== undefined) {
        const l = d.localleap;
        const fields = [l.anchorThreshold !== undefined && `κ ${l.anchorThreshold}`, l.relaxedThreshold !== undefined && `τ ${l.relaxedThreshold}`, l.radius !== undefined && `W ${l.radius}`];
        parts.push(`localleap ${fields.filter(Boolean).join(" ") || "(built-in)"}`);
    }
    if (d.threshold?.threshold !== undefined) parts.push(`threshold θ ${d.threshold.threshold}`);
    const c = d.calibration;
    const source = c === undefined ? "" : ` (calibrated ${c.date.slice(0, 10)} on ${c.prompts} prompts, ${c.metric}, budget ${c.budget} point${c.budget === 1 ? "" : "s"})`;
    return `${parts.join(", ")}; other fields built-in${source}`;
}

/** The archive's learned filter in one line (strategy "learned"), or that it has none. */
export function formatLearnedFilter(info: Pick<ModelInfo, "learnedFilter">): string {
    const f = info.learnedFilter;
    if (f === null) return 'none (strategy "learned" unavailable; tools/train_filter.py trains one)';
    const p = f.provenance;
    return `blocks up to ${f.blockLength}, ${f.hidden} hidden units, default accept threshold ${f.acceptThreshold}; ` +
        `trained ${p.date.slice(0, 10)} on ${p.problems.count} ${p.problems.split} problems at genLength ${p.genLength}`;
}
