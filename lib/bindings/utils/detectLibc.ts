/** "glibc" or "musl" on Linux (from Node's own report, as node-gyp-build does), null elsewhere. */
export function detectLibc(): "glibc" | "musl" | null {
    if (process.platform !== "linux") return null;
    const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
    return header?.glibcVersionRuntime ? "glibc" : "musl";
}
