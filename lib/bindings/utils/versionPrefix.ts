/** The first `parts` numeric components of a version: versionPrefix("2.11.0+cu130", 2) === "2.11". */
export function versionPrefix(version: string, parts: number): string {
    const numeric = version.split(/[^0-9.]/)[0] ?? "";
    return numeric.split(".").filter((p) => p !== "").slice(0, parts).join(".");
}
