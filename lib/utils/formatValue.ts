/** A short, unambiguous rendering of a user-supplied value for error messages. */
export function formatValue(value: unknown): string {
    if (value === undefined) return "undefined";
    if (value === null) return "null";
    if (typeof value === "string") return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
    if (typeof value === "number") {
        // JSON.stringify would print NaN and Infinity as null.
        return Object.is(value, -0) ? "-0" : String(value);
    }
    if (typeof value === "bigint") return `${value}n`;
    if (typeof value === "boolean") return String(value);
    if (typeof value === "function") return "a function";
    if (typeof value === "symbol") return value.toString();
    if (Array.isArray(value)) return `an array of ${value.length}`;
    const name = (value as object).constructor?.name;
    return name && name !== "Object" ? `a ${name}` : "an object";
}
