import { InvalidInputError } from "../../errors";

/**
 * The whole of stdin as text, without its final line break (what `echo` adds). Rejects with
 * InvalidInputError when stdin is a terminal: a prompt must then come as an argument.
 */
export async function readStdin(stdin: NodeJS.ReadStream = process.stdin): Promise<string> {
    if (stdin.isTTY) {
        throw new InvalidInputError("no prompt given", "pass the prompt as an argument, or pipe it on stdin: echo 'your prompt' | localleap generate");
    }
    stdin.setEncoding("utf8");
    let text = "";
    for await (const chunk of stdin) text += chunk as string;
    return text.replace(/\r?\n$/, "");
}
