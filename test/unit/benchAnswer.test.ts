import { describe, expect, test } from "@jest/globals";
import { answerToJson, extractAnswer } from "../../lib/calibrate/answerChecker";

// Each expected value is what tools/train/problems.py extract_answer returned for the same
// string (Python 3.11; str(int) or None), so the port reads answers exactly as the Python eval.
const PYTHON_CASES: [string, string | null][] = [
    ["#### 42", "42"],
    ["The answer is 17.", "17"],
    ["So the answer is -3.", "-3"],
    ["The final answer is 1000.", "1000"],
    ["Answer: $25", "25"],
    ["answer is $7 and later #### 9", "9"],
    ["#### 5\n#### 6", "6"],
    ["####\n\t 12", "12"],
    ["#### $-4", "-4"],
    ["####$8", "8"],
    ["The Answer is 5", null],
    ["answer is", null],
    ["no answer here 123", null],
    ["answer is x 5", null],
    ["#### 007", "7"],
    ["#### -0", "0"],
    ["#### 99999999999999999999", "99999999999999999999"],
    ["answer is\u00a012", "12"],
    ["answer is\u001c3", "3"], // Python's \s has \x1c-\x1f; JS's \s does not
    ["answer is\u00851", "1"], // ... and \x85
    ["answer is\ufeff3", null], // JS's \s has U+FEFF; Python's \s does not
    ["answer is \u0663\u0664", "34"], // Arabic-Indic digits: Python's \d and int() take them
    ["answer is 1\u0661", "11"],
    ["#### \u{1D7D9}", "1"], // MATHEMATICAL DOUBLE-STRUCK DIGIT ONE
    ["answer is 12.5", "12"],
    ["answer is 3,000", "3"],
    ["answeris 4", null],
    ["Answer:-8", "-8"],
    ["answer is --3", null],
    ["answer is - 3", null],
    ["#### 4\nThe answer is", "4"],
    ["", null],
    ["#### 12abc", "12"],
    ["answer is\u2003\u300077", "77"],
    // Decodes of the reference model (models/reference/training-report/eval.json examples).
    [
        "Marco starts with 121 lemons.\nNow there are 121 * 5 = 605 lemons.\n605 - 15 = 590 lemons are left.\nNow he has 590 + 13 = 603 lemons.\n" +
            "Now he has 603 + 29 = 632 lemons.\nNow he has 632 + 29 = 661 lemons.\n#### 661",
        "661",
    ],
    [
        "Jonas starts with 89 crayons.\nThe jars hold 6 * 18 = 108 crayons.\nTogether that makes 10 + 108 = 198.\n198 - 2 = 196 crayons are left.\n" +
            "196 - 95 = 91 crayons are left.\nThe final answer is 91.",
        "91",
    ],
    ["Together they have 226 + 64 = 290 beads.\nEach gets 290 / 5 = 56 beads.\nLeft: 56 - 48 = 18.\nSo the answer is 18.", "18"],
];

describe("extractAnswer (port of problems.extract_answer)", () => {
    test.each(PYTHON_CASES)("%j -> %p", (text, expected) => {
        const got = extractAnswer(text);
        expect(got === null ? null : got.toString()).toBe(expected);
    });

    test("the mathematical digit runs that touch each other keep their values", () => {
        // U+1D7CE..U+1D7FF: five runs of 0-9 back to back; U+1D7E2 is SANS-SERIF DIGIT ZERO.
        expect(extractAnswer("#### \u{1D7E2}\u{1D7E3}\u{1D7EB}")?.toString()).toBe("19");
    });

    test("answerToJson keeps exact numbers as numbers and huge ones as strings", () => {
        expect(answerToJson(null)).toBeNull();
        expect(answerToJson(-12n)).toBe(-12);
        expect(answerToJson(99999999999999999999n)).toBe("99999999999999999999");
    });
});
