import { libtorchDlopenFlags } from "./libtorchDlopenFlags";

/** Marker before the helper's JSON line: libtorch may print its own lines to stdout. */
export const TEST_LOAD_MARKER = "LOCALLEAP_BUILD_INFO ";

/**
 * Source of the child process that test-loads a binary: `node -e <script> -- <binary> <libs...>`
 * preloads the libs as preloadLibtorch does, requires the binary and prints buildInfo() as JSON.
 * Passed with -e rather than as a file so that it runs the same from lib/ (ts) and dist/ (js).
 */
export function testLoadScript(): string {
    return [
        "const [binary, ...libs] = process.argv.slice(1);",
        `for (const lib of libs) { try { process.dlopen({ exports: {} }, lib, ${libtorchDlopenFlags()}); }`,
        "  catch (e) { if (!/did not self-register/.test(e.message)) throw e; } }",
        "const addon = require(binary);",
        `process.stdout.write(${JSON.stringify(TEST_LOAD_MARKER)} + JSON.stringify(addon.buildInfo()) + "\\n");`,
    ].join("\n");
}
