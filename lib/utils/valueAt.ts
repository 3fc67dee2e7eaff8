/** The value at `path` inside `input`, or undefined when the path does not exist. */
export function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
    let value: unknown = input;
    for (const key of path) {
        if (value === null || typeof value !== "object") return undefined;
        value = (value as Record<PropertyKey, unknown>)[key];
    }
    return value;
}
