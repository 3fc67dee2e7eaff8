/**
 * The known name closest to `name` (case- and separator-insensitive edit distance), or undefined
 * when nothing is close: turns `gen_length` into "did you mean genLength?".
 */
export function suggestName(name: string, known: readonly string[]): string | undefined {
    const norm = (s: string) => s.toLowerCase().replace(/[-_\s]/g, "");
    const target = norm(name);
    let best: string | undefined;
    let bestDistance = Infinity;
    for (const candidate of known) {
        const d = editDistance(target, norm(candidate));
        if (d < bestDistance) {
            bestDistance = d;
            best = candidate;
        }
    }
    return bestDistance <= Math.max(1, Math.floor(target.length / 4)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
    let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        const current = [i];
        for (let j = 1; j <= b.length; j++) {
            const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
            current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
        }
        previous = current;
    }
    return previous[b.length] ?? 0;
}
