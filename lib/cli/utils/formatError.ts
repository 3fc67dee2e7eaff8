import { LocalleapError } from "../../errors";

/**
 * What the CLI prints for an error: `error [CODE]: message` and `hint: ...` for localleap's own
 * errors (never a stack trace); other errors get their stack only with LOCALLEAP_DEBUG=1.
 */
export function formatError(error: unknown, env: NodeJS.ProcessEnv = process.env): string {
    if (error instanceof LocalleapError) {
        return `error [${error.code}]: ${error.message}` + (error.hint ? `\nhint: ${error.hint}` : "");
    }
    if (error instanceof Error) {
        return env.LOCALLEAP_DEBUG === "1" && error.stack ? `error: ${error.stack}` : `error: ${error.message}`;
    }
    return `error: ${String(error)}`;
}
