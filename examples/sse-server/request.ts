// Reading and checking a /generate request, and describing errors for JSON bodies and SSE events.
import type { IncomingMessage } from "node:http";
import { type ChatMessage, type GenerateInput, type GenerateOptions, LocalleapError, parseGenerateOptions } from "../../lib";

/** Generation options a client may not send: the server owns them. */
const SERVER_OWNED: readonly string[] = ["signal", "onStep"];

/** An error answered with an HTTP status before any stream starts. */
export class HttpError extends Error {
    constructor(readonly status: number, readonly code: string, message: string, readonly hint?: string) {
        super(message);
    }
}

/** The HTTP status for a localleap error raised before a generation started. */
export function statusOf(error: LocalleapError): number {
    switch (error.code) {
        case "INVALID_OPTIONS":
        case "INVALID_INPUT":
        case "PROMPT_TOO_LONG":
            return 400;
        case "QUEUE_FULL":
        case "MODEL_DISPOSED":
            return 503;
        default:
            return 500;
    }
}

/** `{ code, message, hint }` of any error, for JSON bodies and `event: error`. */
export function describe(error: unknown): { code: string; message: string; hint?: string } {
    if (error instanceof HttpError || error instanceof LocalleapError) {
        return { code: error.code, message: error.message, ...(error.hint !== undefined && { hint: error.hint }) };
    }
    return { code: "INTERNAL", message: error instanceof Error ? error.message : String(error) };
}

/**
 * Resolves to the error when `promise` rejects before the event loop turns, else to null.
 * generate() checks its options, input, prompt length and queue before it starts, and rejects
 * at once when one fails: those errors get a proper HTTP status instead of an SSE error event.
 */
export function rejectedAtOnce(promise: Promise<unknown>): Promise<unknown> {
    return new Promise((resolve) => {
        const timer = setImmediate(() => resolve(null));
        promise.then(
            () => undefined,
            (error: unknown) => {
                clearImmediate(timer);
                resolve(error);
            },
        );
    });
}

export async function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size > maxBytes) throw new HttpError(413, "BODY_TOO_LARGE", `the request body is over ${maxBytes} bytes`);
        chunks.push(chunk as Buffer);
    }
    try {
        return JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch (error) {
        throw new HttpError(400, "BAD_REQUEST", `the body is not JSON: ${(error as Error).message}`, 'send { "prompt": "..." } or { "messages": [...] }');
    }
}

/** The input and options of a /generate body; throws HttpError or InvalidOptionsError. */
export function parseGenerateBody(body: unknown, maxGenLength: number | undefined): { input: GenerateInput; options: GenerateOptions } {
    const hint = 'send { "prompt": "text" } or { "messages": [{ "role": "user", "content": "text" }] }, with optional "options"';
    if (body === null || typeof body !== "object" || Array.isArray(body)) throw new HttpError(400, "BAD_REQUEST", "the body must be a JSON object", hint);
    const { prompt, messages, options = {}, ...rest } = body as { prompt?: unknown; messages?: unknown; options?: unknown };
    const unknownKeys = Object.keys(rest);
    if (unknownKeys.length > 0) throw new HttpError(400, "BAD_REQUEST", `unknown field${unknownKeys.length > 1 ? "s" : ""} ${unknownKeys.join(", ")}`, hint);
    if ((prompt === undefined) === (messages === undefined)) throw new HttpError(400, "BAD_REQUEST", "give exactly one of prompt and messages", hint);
    if (prompt !== undefined && typeof prompt !== "string") throw new HttpError(400, "BAD_REQUEST", "prompt must be a string", hint);
    if (messages !== undefined && !Array.isArray(messages)) throw new HttpError(400, "BAD_REQUEST", "messages must be an array", hint);
    if (options === null || typeof options !== "object" || Array.isArray(options)) throw new HttpError(400, "BAD_REQUEST", "options must be an object", hint);
    const owned = Object.keys(options).filter((key) => SERVER_OWNED.includes(key));
    if (owned.length > 0) throw new HttpError(400, "BAD_REQUEST", `options.${owned[0]} is set by the server`, "drop it; closing the connection aborts the generation");
    // Checked here for a 400 that lists every bad field; generate() checks again.
    const resolved = parseGenerateOptions(options);
    if (maxGenLength !== undefined && resolved.genLength > maxGenLength) {
        throw new HttpError(400, "BAD_REQUEST", `options.genLength ${resolved.genLength} is over this server's limit of ${maxGenLength}`);
    }
    // A message list is validated (roles, contents) by generate().
    return { input: (prompt as string | undefined) ?? (messages as ChatMessage[]), options: options as GenerateOptions };
}
