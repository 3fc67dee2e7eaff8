import type { z } from "zod";
import type { OptionIssue } from "../errors";
import { formatValue } from "../utils/formatValue";
import { valueAt } from "../utils/valueAt";
import { suggestName } from "../utils/suggestName";

/**
 * Turns zod issues into one {@link OptionIssue} per bad field, worded from `allowed` (what each
 * field accepts) rather than zod's generic messages, so every message says what to pass instead.
 */
export function formatZodIssues(
    issues: readonly z.core.$ZodIssue[],
    input: unknown,
    allowed: Readonly<Record<string, string>>,
): OptionIssue[] {
    const result: OptionIssue[] = [];
    const seen = new Set<string>();
    const known = Object.keys(allowed);
    for (const issue of issues) {
        if (issue.code === "unrecognized_keys" && issue.path.length > 0) {
            // An unknown key inside an option's object (adaptiveBlock, apd): named under that option.
            const parent = issue.path.map(String).join(".");
            for (const key of issue.keys) {
                const field = `${parent}.${key}`;
                if (seen.has(field)) continue;
                seen.add(field);
                const allowedText = allowed[String(issue.path[0])] ?? issue.message;
                result.push({
                    field,
                    given: formatValue(valueAt(input, [...issue.path, key])),
                    allowed: allowedText,
                    message: `${parent}: unknown key "${key}"; allowed: ${allowedText}`,
                });
            }
            continue;
        }
        if (issue.code === "unrecognized_keys") {
            for (const key of issue.keys) {
                if (seen.has(key)) continue;
                seen.add(key);
                const suggestion = suggestName(key, known);
                const given = formatValue(valueAt(input, [key]));
                const allowedText = `one of the known options: ${known.join(", ")}`;
                result.push({
                    field: key,
                    given,
                    allowed: allowedText,
                    message: `unknown option "${key}"${suggestion ? ` (did you mean ${suggestion}?)` : ""}; ${allowedText}`,
                });
            }
            continue;
        }
        const field = issue.path.map(String).join(".");
        if (seen.has(field)) continue;
        seen.add(field);
        const given = formatValue(valueAt(input, issue.path));
        if (field === "") {
            const allowedText = "an options object, or nothing";
            result.push({ field, given, allowed: allowedText, message: `options: got ${given}; allowed: ${allowedText}` });
            continue;
        }
        const allowedText = allowed[String(issue.path[0])] ?? issue.message;
        result.push({ field, given, allowed: allowedText, message: `${field}: got ${given}; allowed: ${allowedText}` });
    }
    return result;
}
