import { describe, expect, test } from "@jest/globals";
import { aup, aupCurve, aupWeight } from "../../bench/accuracy/aup";

describe("AUP (Accuracy Under Parallelism)", () => {
    test("a hand-computed example: sorting, the 5-point cut, the weights and the trapezoids", () => {
        // Points (TPF, accuracy %), given out of order; y_max = 80.
        // Sorted: (1, 80), (2, 78), (3, 76), (4, 70); (4, 70) is dropped: 70 < 80 - 5.
        // W(80) = 1; W(78) = exp(-3 (1 - 78/80)) = exp(-0.075) = 0.927743486...;
        // W(76) = exp(-0.15) = 0.860707976...
        // AUP = 1 * 80
        //     + (2 - 1) * (78 * 0.927743486 + 80 * 1) / 2           = (72.363992 + 80) / 2 = 76.181996
        //     + (3 - 2) * (76 * 0.860707976 + 78 * 0.927743486) / 2 = (65.413806 + 72.363992) / 2 = 68.888899
        //     = 225.070895
        const points = [
            { tpf: 3, accuracy: 76 },
            { tpf: 1, accuracy: 80 },
            { tpf: 4, accuracy: 70 },
            { tpf: 2, accuracy: 78 },
        ];
        expect(aupCurve(points).map((p) => p.tpf)).toEqual([1, 2, 3]);
        expect(aup(points, 80)).toBeCloseTo(225.070895, 5);
    });

    test("a family below the task's best accuracy is weighted down (checked against Python)", () => {
        // y_max = 90 from another family; Python: 275.2988776550634.
        const points = [
            { tpf: 1.5, accuracy: 60 },
            { tpf: 4, accuracy: 62 },
            { tpf: 10, accuracy: 56 },
        ];
        expect(aup(points, 90)).toBeCloseTo(275.2988776550634, 9);
    });

    test("one point scores TPF x accuracy, unweighted; no point scores 0", () => {
        expect(aup([{ tpf: 5, accuracy: 50 }], 90)).toBeCloseTo(250, 12);
        expect(aup([], 90)).toBe(0);
    });

    test("the 5-point cut is measured from the least parallel point, inclusive", () => {
        const points = [
            { tpf: 1, accuracy: 60 },
            { tpf: 2, accuracy: 55 },
            { tpf: 3, accuracy: 54.9 },
            { tpf: 4, accuracy: 70 },
        ];
        expect(aupCurve(points).map((p) => p.tpf)).toEqual([1, 2, 4]);
    });

    test("equal TPF: the more accurate point comes first and a zero-width step adds nothing", () => {
        const points = [
            { tpf: 1, accuracy: 70 },
            { tpf: 1, accuracy: 72 },
        ];
        expect(aupCurve(points)[0]).toEqual({ tpf: 1, accuracy: 72 });
        expect(aup(points, 72)).toBeCloseTo(72, 12);
    });

    test("W is 1 at or above y_max and exp(-3) at zero accuracy", () => {
        expect(aupWeight(80, 80)).toBe(1);
        expect(aupWeight(85, 80)).toBe(1);
        expect(aupWeight(0, 80)).toBeCloseTo(Math.exp(-3), 15);
    });
});
