// Moved from bench/accuracy/answer.ts so that the package can use it (lib/calibrate); the benchmark imports it from here.
// The final answer of a generated solution: a port of tools/train/problems.py extract_answer,
//   ANSWER_RE = re.compile(r"(?:####|answer is|Answer:)\s*\$?(-?\d+)")
//   found = ANSWER_RE.findall(text); return int(found[-1]) if found else None
// matching Python's str semantics exactly: `\s` is str.isspace() (which JS's \s is not: it lacks
// \x1c-\x1f and \x85 and adds \ufeff), `\d` is any Unicode decimal digit (category Nd) and int()
// reads those digits and any number of them (a bigint here, never a rounded float).

/** The characters Python's `\s` matches in a str pattern (str.isspace()). */
const PY_SPACE = "\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const ANSWER_RE = new RegExp(`(?:####|answer is|Answer:)[${PY_SPACE}]*\\$?(-?\\p{Nd}+)`, "gu");
const IS_DIGIT = /^\p{Nd}$/u;

/**
 * The last final-answer mark (`#### N`, `answer is N`, `Answer: N`) in `text`, as Python's
 * extract_answer reads it, or null when there is none.
 */
export function extractAnswer(text: string): bigint | null {
    let last: string | undefined;
    for (const match of text.matchAll(ANSWER_RE)) last = match[1];
    return last === undefined ? null : parsePythonInt(last);
}

/** int() of "-?<Nd digits>": every Unicode decimal digit counts with its digit value. */
function parsePythonInt(s: string): bigint {
    const negative = s.startsWith("-");
    let value = 0n;
    for (const ch of negative ? s.slice(1) : s) value = value * 10n + BigInt(digitValue(ch));
    return negative ? -value : value;
}

/**
 * The value of a decimal digit. Unicode encodes every Nd digit in runs of ten consecutive code
 * points from 0 to 9 (some runs touch, e.g. the mathematical digits), so the value is the offset
 * from the start of the run of Nd code points, modulo 10.
 */
function digitValue(ch: string): number {
    const cp = ch.codePointAt(0) as number;
    if (cp >= 0x30 && cp <= 0x39) return cp - 0x30;
    let start = cp;
    while (start > 0 && IS_DIGIT.test(String.fromCodePoint(start - 1))) start--;
    return (cp - start) % 10;
}

/** A bigint answer as JSON can hold it: a number when exact, else its decimal string. */
export function answerToJson(value: bigint | null): number | string | null {
    if (value === null) return null;
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
}

/** A calibration answer checker: whether `text` (a generation) answers `answer` (the prompt set's reference). */
export type AnswerChecker = (text: string, answer: string) => boolean;

/**
 * The default checker, the rule of bench/accuracy and tools/train/evaluate.py: the last
 * final-answer mark of the text (`#### N`, `answer is N`, `Answer: N`) equals the reference, an
 * integer. A reference that is not an integer never matches.
 */
export const checkFinalAnswer: AnswerChecker = (text, answer) => {
    const reference = parseIntegerAnswer(answer);
    if (reference === null) return false;
    return extractAnswer(text) === reference;
};

/** A reference answer ("64", "-3", " 12 ") as a bigint, or null when it is not an integer. */
export function parseIntegerAnswer(answer: string): bigint | null {
    const trimmed = answer.trim();
    return /^-?\d+$/.test(trimmed) ? BigInt(trimmed) : null;
}
