// AUP, Accuracy Under Parallelism: the hardware-independent score of the public parallel-decoder
// leaderboard. For one strategy family on one task, points (rho_i = TPF, tokens per forward
// pass, ascending; y_i = accuracy in %):
//   keep the points with y_i >= y_1 - 5 (y_1: the accuracy of the least parallel point);
//   AUP = rho_1 * y_1 + sum_{i>=2} (rho_i - rho_{i-1}) * (y_i W(y_i) + y_{i-1} W(y_{i-1})) / 2,
//   W(y) = min(exp(-3 (1 - y / y_max)), 1), y_max the best accuracy on the task.
// The sum runs over consecutive kept points.

/** One decoding configuration of a family: its TPF and its accuracy in %. */
export interface AupPoint {
    tpf: number;
    accuracy: number;
}

/** The accuracy weight: 1 at y_max (and above), falling exponentially below it. */
export function aupWeight(accuracy: number, yMax: number): number {
    if (!(yMax > 0)) return 1;
    return Math.min(Math.exp(-3 * (1 - accuracy / yMax)), 1);
}

/**
 * The points AUP integrates: sorted by TPF ascending (equal TPF: higher accuracy first, so y_1 is
 * the best of the least parallel points), then those within 5 points of y_1.
 */
export function aupCurve(points: readonly AupPoint[]): AupPoint[] {
    const sorted = [...points].sort((a, b) => a.tpf - b.tpf || b.accuracy - a.accuracy);
    const first = sorted[0];
    if (first === undefined) return [];
    return sorted.filter((p) => p.accuracy >= first.accuracy - 5);
}

/** AUP of a family's points; `yMax` is the best accuracy (%) on the task. 0 for no point. */
export function aup(points: readonly AupPoint[], yMax: number): number {
    const curve = aupCurve(points);
    const first = curve[0];
    if (first === undefined) return 0;
    let score = first.tpf * first.accuracy;
    for (let i = 1; i < curve.length; i++) {
        const prev = curve[i - 1] as AupPoint;
        const cur = curve[i] as AupPoint;
        score += ((cur.tpf - prev.tpf) * (cur.accuracy * aupWeight(cur.accuracy, yMax) + prev.accuracy * aupWeight(prev.accuracy, yMax))) / 2;
    }
    return score;
}
