/** Numeric comparison of dotted versions ("2.11" > "2.9"); missing parts count as 0, suffixes are ignored. */
export function compareVersions(a: string, b: string): number {
    const parts = (v: string) => (v.split(/[^0-9.]/)[0] ?? "").split(".").filter((p) => p !== "").map(Number);
    const pa = parts(a);
    const pb = parts(b);
    for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
        const d = (pa[i] ?? 0) - (pb[i] ?? 0);
        if (d !== 0) return Math.sign(d);
    }
    return 0;
}
