// Cases for APD's token choice (addon.applyApdTokens): random logits with the values a rule must
// order exactly (ties, NaN, +-inf, all -inf rows), drafts and targets, greedy and sampled, R at its
// special values and between, widths that are and are not multiples of a CTA's 256 threads.
import type { AddonApdTokensCase } from "../../lib/bindings/AddonTypes";
import { Prng } from "./prng";

function logits(prng: Prng, count: number, width: number, special: boolean): Float32Array {
    const z = new Float32Array(count * width);
    for (let i = 0; i < z.length; i++) z[i] = prng.normal() * 3;
    if (!special) return z;
    for (let t = 0; t < count; t++) {
        const row = z.subarray(t * width, (t + 1) * width);
        const kind = t % 6;
        if (kind === 1) {
            // a tie of the best value at several ids: the lowest must win
            const top = 40;
            for (let k = 0; k < 3; k++) row[prng.int(0, width - 1)] = top;
        } else if (kind === 2) {
            for (let k = 0; k < 4; k++) row[prng.int(0, width - 1)] = Number.NaN;
            row[prng.int(0, width - 1)] = Number.POSITIVE_INFINITY;
        } else if (kind === 3) {
            row.fill(Number.NEGATIVE_INFINITY);  // every score -inf: the first id that is not the mask
        } else if (kind === 4) {
            row.fill(Number.NaN);
        } else if (kind === 5) {
            for (let v = 0; v < width; v++) row[v] = Math.round(row[v] as number);  // many ties
        }
    }
    return z;
}

/** count x width tasks; `targets` adds the causal LM's logits. */
export function apdTokensCase(seed: number, count: number, width: number, options: {
    targets: boolean; mixtureWeight: number; temperature: number; maskId: number; special?: boolean;
}): AddonApdTokensCase {
    const prng = new Prng(seed);
    const special = options.special ?? true;
    return {
        count, width, maskId: options.maskId, mixtureWeight: options.mixtureWeight, temperature: options.temperature,
        seed: prng.int(0, 1 << 30), rowStep: prng.int(0, 500),
        zd: logits(prng, count, width, special),
        ...(options.targets && { za: logits(prng, count, width, special) }),
    };
}

/** The grid both the CPU and the GPU tests run: [name, case]. */
export function apdTokensGrid(widths: readonly number[], count: number): Array<[string, AddonApdTokensCase]> {
    const out: Array<[string, AddonApdTokensCase]> = [];
    let seed = 1;
    for (const width of widths) {
        for (const targets of [false, true]) {
            for (const mixtureWeight of targets ? [0, 0.3, 0.7, 1] : [0.7]) {
                for (const temperature of [0, 0.5, 1.5]) {
                    const maskId = seed % 3 === 0 ? -1 : (seed * 7919) % width;
                    out.push([`width ${width}, ${targets ? `targets R ${mixtureWeight}` : "drafts"}, T ${temperature}, mask ${maskId}`,
                        apdTokensCase(seed++, count, width, { targets, mixtureWeight, temperature, maskId })]);
                }
            }
        }
    }
    return out;
}
