import { InvalidOptionsError, LocalleapError } from "../../errors";

/** An error as the JSON the CLI prints with --json: `{ "error": { code, message, hint?, issues? } }`. */
export function errorJson(error: unknown): { error: { code: string; message: string; hint?: string; issues?: unknown[] } } {
    if (error instanceof LocalleapError) {
        return {
            error: {
                code: error.code,
                message: error.message,
                ...(error.hint !== undefined && { hint: error.hint }),
                ...(error instanceof InvalidOptionsError && { issues: error.issues }),
            },
        };
    }
    return { error: { code: "INTERNAL", message: error instanceof Error ? error.message : String(error) } };
}

/**
 * Runs a command's action; with --json, an error becomes one JSON document on stdout (compact:
 * one line, for JSON-lines output) and exit code 1, instead of text on stderr.
 */
export async function withJsonErrors(json: boolean | undefined, compact: boolean, action: () => Promise<void>): Promise<void> {
    try {
        await action();
    } catch (error) {
        if (!json) throw error;
        process.stdout.write(`${JSON.stringify(errorJson(error), null, compact ? undefined : 2)}\n`);
        process.exitCode = 1;
    }
}
