// The shipped reference model's learned filter (models/reference/learned_filter.json, embedded in
// model.pt by tools/export.py) was trained on training-split problems only: its provenance lists
// ids of bench/data/calibration-train.jsonl (tools/train/make_calibration_set.py's training seeds),
// none of the held-out benchmark set's, and the file is a valid filter (lib/learnedFilter.ts).
import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseLearnedFilter } from "../../lib/learnedFilter";

const root = path.resolve(__dirname, "..", "..");
const rows = (file: string) =>
    readFileSync(path.join(root, file), "utf8")
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => JSON.parse(line) as { id: string; question: string });
const normalise = (q: string) => q.trim().toLowerCase().replace(/[.?!]+$/, "");

describe("the shipped learned filter (models/reference/learned_filter.json)", () => {
    const file = path.join(root, "models/reference/learned_filter.json");
    const text = readFileSync(file, "utf8");
    const filter = parseLearnedFilter(text, file)!;

    it("is a valid filter for blocks of 32 with the documented default threshold", () => {
        expect(filter).not.toBeNull();
        expect(filter.info).toMatchObject({ blockLength: 32, hidden: 32, acceptThreshold: 0.96 });
        expect(filter.weights.w1).toHaveLength(32 * 32);
    });

    it("lists only training-split problems, none of the held-out set", () => {
        const { problems, genLength } = filter.info.provenance;
        expect(problems.source).toBe("bench/data/calibration-train.jsonl");
        expect(problems.split).toBe("train");
        expect(problems.count).toBe(problems.ids.length);
        expect(problems.count).toBeGreaterThanOrEqual(40);
        expect(new Set(problems.ids).size).toBe(problems.ids.length);
        expect(genLength).toBe(256);
        const training = new Map(rows("bench/data/calibration-train.jsonl").map((r) => [r.id, r.question]));
        const heldout = rows("bench/data/heldout.jsonl");
        const heldIds = new Set(heldout.map((r) => r.id));
        const heldQuestions = new Set(heldout.map((r) => normalise(r.question)));
        for (const id of problems.ids) {
            expect({ id, training: training.has(id) }).toEqual({ id, training: true });
            expect({ id, heldout: heldIds.has(id) }).toEqual({ id, heldout: false });
            expect({ id, heldout: heldQuestions.has(normalise(training.get(id)!)) }).toEqual({ id, heldout: false });
            expect(id).toMatch(/^train1?:\d+$/);
        }
    });

    it("names the model it was trained for", () => {
        expect(filter.info.provenance.model).toContain("localleap-reference");
    });
});

describe("localleap info's learned filter line", () => {
    it("says whether the archive has a filter and what it was trained on", async () => {
        const { formatLearnedFilter } = await import("../../lib/cli/utils/formatModelInfo");
        expect(formatLearnedFilter({ learnedFilter: null })).toMatch(/^none/);
        const file = path.join(root, "models/reference/learned_filter.json");
        const info = parseLearnedFilter(readFileSync(file, "utf8"), file)!.info;
        expect(formatLearnedFilter({ learnedFilter: info })).toMatch(/^blocks up to 32, 32 hidden units, default accept threshold 0\.96; trained \d{4}-\d\d-\d\d on \d+ train problems at genLength 256$/);
    });
});
