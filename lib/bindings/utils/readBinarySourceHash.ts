import { readFileSync } from "node:fs";

const MARKER = Buffer.from("localleap-source-hash:");

/**
 * The native source hash a .node file was built from, read from its bytes (native/bindings/
 * build_info.cc keeps it as "localleap-source-hash:<hex>") without loading it; "" when the binary
 * has none (node-gyp builds, or binaries older than the marker).
 */
export function readBinarySourceHash(binaryPath: string): string {
    const bytes = readFileSync(binaryPath);
    const at = bytes.indexOf(MARKER);
    if (at < 0) return "";
    const start = at + MARKER.length;
    let end = start;
    while (end < bytes.length && end - start < 64 && isHexDigit(bytes[end] as number)) end++;
    return bytes.subarray(start, end).toString("latin1");
}

function isHexDigit(byte: number): boolean {
    return (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66);
}
