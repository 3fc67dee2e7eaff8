// The shipped model's decoding defaults were calibrated on bench/data/calibration-train.jsonl
// (issue 14: training-split prompts, never held-out ones). This pins that the file is what
// tools/train/make_calibration_set.py says: training seeds only, no question of the benchmark's
// held-out set, with answers for the accuracy metric.
import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import path from "node:path";

const root = path.resolve(__dirname, "..", "..");
const rows = (file: string) =>
    readFileSync(path.join(root, file), "utf8")
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => JSON.parse(line) as { id: string; question: string; answer: number });
// make_data.py's normalisation: lowercased, final punctuation dropped.
const normalise = (q: string) => q.trim().toLowerCase().replace(/[.?!]+$/, "");

describe("calibration prompt set (bench/data/calibration-train.jsonl)", () => {
    const calibration = rows("bench/data/calibration-train.jsonl");
    const heldout = rows("bench/data/heldout.jsonl");

    it("has the 400 two-to-four-step and 100 one-step training problems, each with an answer", () => {
        expect(calibration.filter((r) => /^train:\d+$/.test(r.id))).toHaveLength(400);
        expect(calibration.filter((r) => /^train1:\d+$/.test(r.id))).toHaveLength(100);
        expect(calibration).toHaveLength(500);
        for (const r of calibration) expect(Number.isInteger(r.answer)).toBe(true);
    });

    it("shares no seed and no question with the held-out benchmark set", () => {
        expect(heldout).toHaveLength(2000);
        const heldIds = new Set(heldout.map((r) => r.id));
        const heldQuestions = new Set(heldout.map((r) => normalise(r.question)));
        for (const r of calibration) {
            expect(heldIds.has(r.id)).toBe(false);
            expect(heldQuestions.has(normalise(r.question))).toBe(false);
        }
    });

    it("is what the shipped archive's calibration record says it used", () => {
        const config = JSON.parse(readFileSync(path.join(root, "models/reference/config.json"), "utf8")) as {
            decoding_defaults: { calibration: { prompts: number; metric: string; genLength: number } };
        };
        expect(config.decoding_defaults.calibration).toMatchObject({ prompts: calibration.length, metric: "accuracy", genLength: 256 });
    });
});
