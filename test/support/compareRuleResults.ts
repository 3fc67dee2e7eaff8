import type { AddonRuleResult } from "../../lib/bindings/AddonTypes";

/** "" when the two results are bit-identical, else a description of the first difference. */
export function compareRuleResults(a: AddonRuleResult, b: AddonRuleResult): string {
    const confA = new Uint32Array(a.confidences.buffer, a.confidences.byteOffset, a.confidences.length);
    const confB = new Uint32Array(b.confidences.buffer, b.confidences.byteOffset, b.confidences.length);
    const fields: [string, ArrayLike<number>, ArrayLike<number>][] = [
        ["tokens", a.tokens, b.tokens],
        ["confidence bits", confA, confB],
        ["commit", a.commit, b.commit],
        ["block", a.block, b.block],
        ["blockLengths", a.blockLengths ?? [], b.blockLengths ?? []],
    ];
    for (const [name, x, y] of fields) {
        if (x.length !== y.length) return `${name}: lengths ${x.length} and ${y.length}`;
        for (let i = 0; i < x.length; i++) {
            if (x[i] !== y[i]) {
                return `${name}[${i}]: ${x[i]} vs ${y[i]} (confidences ${a.confidences[i]} vs ${b.confidences[i]})`;
            }
        }
    }
    return "";
}
