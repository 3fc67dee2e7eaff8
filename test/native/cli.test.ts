// The built CLI (`node dist/lib/cli/cli.js`, what `npx localleap` runs) as a child process:
// generate (argument, stdin, --json, --watch on a pipe), chat with piped stdin, info.
// Expected outputs come from the same model through the API in this process.
import { execFile } from "node:child_process";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { type ChatMessage, type GenerateOptions, type GenerateResult, loadModel, type Model, type StepEvent, type StreamEvent } from "../../lib";
import { ensureBuilt } from "../support/buildDist";
import { LLADA_FIXTURE, ROOT } from "../support/fixtures";
import { type CliRun as Run, runCli } from "../support/runCli";

const cli = runCli;

const comparable = (result: GenerateResult) => ({ ...result, timings: null });
const STATS = /(^|\n)steps: \d+ \(per block: [\d ]+\), finish: (eos|length|stop|max-tokens), [\d.]+ ms total, [\d.]+ ms\/step, [\d.]+ tokens\/s, cache (none|(prefix|dual) \(\d+ full steps at [\d.]+ ms, \d+ cached at [\d.]+ ms\))\n$/;
const FIXTURE = ["-m", LLADA_FIXTURE, "--device", "cpu"];

let model: Model;
beforeAll(async () => {
    ensureBuilt("tsconfig.json", "dist/lib/cli/cli.js", ["lib"]);
    model = await loadModel({ modelPath: LLADA_FIXTURE, device: "cpu" });
});
afterAll(async () => {
    await model?.dispose();
});

describe("generate", () => {
    const options: GenerateOptions = { genLength: 32, blockLength: 16, strategy: "threshold", threshold: 0.5 };
    const flags = ["--gen-length", "32", "--block-length", "16", "--strategy", "threshold", "--threshold", "0.5"];

    test("prompt as an argument, from stdin, and from stdin with -: the text on stdout, a stats line on stderr", async () => {
        const expected = await model.generate("The prompt", options);
        const runs = await Promise.all([
            cli(["generate", ...FIXTURE, ...flags, "The prompt"]),
            cli(["generate", ...FIXTURE, ...flags], "The prompt\n"),
            cli(["generate", ...FIXTURE, ...flags, "-"], "The prompt"),
        ]);
        for (const run of runs) {
            expect(run.code).toBe(0);
            expect(run.stdout).toBe(`${expected.text}\n`);
            expect(run.stderr).toMatch(STATS);
            expect(run.stderr).toContain(`steps: ${expected.steps} (per block: ${expected.stepsPerBlock.join(" ")})`);
        }
    });

    test("--raw sends the string as plain text; without it a string is the user's message", async () => {
        const [raw, templated] = await Promise.all([
            cli(["generate", ...FIXTURE, ...flags, "--json", "--raw", "The prompt"]),
            cli(["generate", ...FIXTURE, ...flags, "--json", "The prompt"]),
        ]);
        const rawResult = JSON.parse(raw.stdout) as GenerateResult;
        expect(comparable(rawResult)).toEqual(comparable(await model.generate("The prompt", { ...options, raw: true })));
        expect(comparable(JSON.parse(templated.stdout))).toEqual(comparable(await model.generate([{ role: "user", content: "The prompt" }], options)));
        expect(rawResult.promptTokens).toBeLessThan((JSON.parse(templated.stdout) as GenerateResult).promptTokens);
    });

    test("--json: an error is one JSON document on stdout, exit code 1", async () => {
        const run = await cli(["generate", "--model", "/nowhere/model.pt", "--json", "x"]);
        expect(run.code).toBe(1);
        expect(JSON.parse(run.stdout)).toEqual({ error: { code: "MODEL_NOT_FOUND", message: expect.stringContaining("/nowhere/model.pt"), hint: expect.any(String) } });
    });

    test("--json prints the result; --chat and --system build chat messages", async () => {
        const messages: ChatMessage[] = [{ role: "system", content: "Be brief." }, { role: "user", content: "hello" }];
        const [plain, chat] = await Promise.all([
            cli(["generate", ...FIXTURE, ...flags, "--json", "The prompt"]),
            cli(["generate", ...FIXTURE, ...flags, "--json", "--chat", "--system", "Be brief.", "hello"]),
        ]);
        expect(plain.code).toBe(0);
        expect(comparable(JSON.parse(plain.stdout))).toEqual(comparable(await model.generate("The prompt", options)));
        expect(chat.code).toBe(0);
        expect(comparable(JSON.parse(chat.stdout))).toEqual(comparable(await model.generate(messages, options)));
    });

    test("--watch on a pipe: one canvas line per step, then the final text and the stats line", async () => {
        const events: StepEvent[] = [];
        const expected = await model.generate("Watch this", { ...options, onStep: (e) => events.push(e) });
        const run = await cli(["generate", ...FIXTURE, ...flags, "--watch", "Watch this"]);
        expect(run.code).toBe(0);
        expect(events.length).toBe(expected.steps);
        const canvasLines = events.map((e) => e.text.replace(/\r?\n/g, "\\n"));
        expect(run.stdout).toBe(`${canvasLines.join("\n")}\n${expected.text}\n`);
        expect(canvasLines[0]).toContain("░");
        expect(run.stderr).toMatch(STATS);
    });

    test("--watch --json: every stream event as a JSON line, ending with done", async () => {
        const expected: StreamEvent[] = [];
        for await (const event of model.stream("Watch this", options)) expected.push(event);
        const run = await cli(["generate", ...FIXTURE, ...flags, "--watch", "--json", "Watch this"]);
        expect(run.code).toBe(0);
        const events = run.stdout.trimEnd().split("\n").map((line) => JSON.parse(line) as StreamEvent);
        expect(events.slice(0, -1)).toEqual(expected.slice(0, -1));
        const done = events[events.length - 1] as Extract<StreamEvent, { type: "done" }>;
        expect(done.type).toBe("done");
        expect(comparable(done.result)).toEqual(comparable((expected[expected.length - 1] as typeof done).result));
    });

    test("errors: `error [CODE]: message` and a hint on stderr, exit code 1", async () => {
        const [badFlag, emptyStdin] = await Promise.all([
            cli(["generate", ...FIXTURE, "--gen-length", "abc", "x"]),
            cli(["generate", ...FIXTURE], ""),
        ]);
        expect(badFlag.code).toBe(1);
        expect(badFlag.stderr).toMatch(/^error \[INVALID_OPTIONS\]: .*\n.*genLength: got "abc"/);
        expect(badFlag.stderr).toMatch(/\nhint: /);
        expect(emptyStdin.code).toBe(1);
        expect(emptyStdin.stderr).toMatch(/^error \[INVALID_INPUT\]: the prompt is empty\nhint: /);
    });
});

describe("chat", () => {
    const chatFlags = [...FIXTURE, "--gen-length", "32", "--stop-at-eos"];
    const options: GenerateOptions = { genLength: 32, stopAtEos: true };

    test("piped stdin, two turns: the second sees the history; /reset starts over", async () => {
        const run = await cli(["chat", ...chatFlags, "--json"], "first question\n\nsecond question\n/reset\nfirst question\n");
        expect(run.code).toBe(0);
        const lines = run.stdout.trimEnd().split("\n").map((line) => JSON.parse(line) as { type: string; turn?: number; user?: string; result?: GenerateResult });
        expect(lines.map((l) => l.type)).toEqual(["turn", "turn", "reset", "turn"]);
        const [first, second, , again] = lines as [Required<(typeof lines)[0]>, Required<(typeof lines)[0]>, unknown, Required<(typeof lines)[0]>];
        expect([first.turn, second.turn, again.turn]).toEqual([1, 2, 1]);

        const history: ChatMessage[] = [{ role: "user", content: "first question" }];
        expect(comparable(first.result)).toEqual(comparable(await model.generate(history, options)));
        history.push({ role: "assistant", content: first.result.text }, { role: "user", content: "second question" });
        expect(comparable(second.result)).toEqual(comparable(await model.generate(history, options)));
        expect(second.result.promptTokens).toBeGreaterThan(first.result.promptTokens + first.result.tokens.length);
        // After /reset the conversation starts from nothing again.
        expect(comparable(again.result)).toEqual(comparable(first.result));
    });

    test("text output: each answer, then its step count; /exit ends the chat", async () => {
        const expected = await model.generate([{ role: "user", content: "hello there" }], options);
        const run = await cli(["chat", ...chatFlags], "hello there\n/exit\nnever answered\n");
        expect(run.code).toBe(0);
        expect(run.stdout).toBe(`${expected.text}\n`);
        expect(run.stderr).toContain(`[${expected.steps} steps, ${expected.tokens.length} tokens, finish ${expected.finishReason}, ${expected.promptTokens} prompt tokens, `);
    });
});

describe("info", () => {
    test("--json: the build variant, the libtorch found, and the default model's metadata and device", async () => {
        const run = await cli(["info", "--json", "--device", "cpu"]);
        expect(run.code).toBe(0);
        const info = JSON.parse(run.stdout);
        expect(info.build).toMatchObject({ variant: expect.stringMatching(/^(cpu|cuda)$/), torchVersion: expect.any(String) });
        expect(info.libtorchFound.length).toBeGreaterThan(0);
        expect(info.model).toMatchObject({ device: "cpu", metadata: { name: expect.any(String), vocabSize: expect.any(Number) }, hasChatTemplate: true });
        expect(info.error).toBeNull();
    });

    test("text: binary, libtorch found and the model", async () => {
        const run = await cli(["info", ...FIXTURE]);
        expect(run.code).toBe(0);
        expect(run.stdout).toMatch(/^localleap \S+ \(node v\d+/);
        expect(run.stdout).toMatch(/\nbinary: .*\((cpu|cuda)[^)]*\)/);
        expect(run.stdout).toMatch(/\nlibtorch found:\n {2}- /);
        expect(run.stdout).toContain(`model: ${LLADA_FIXTURE}`);
        expect(run.stdout).toMatch(/device cpu, dtype /);
    });
});

test("npx localleap works in the checkout (the bin is executable after set-up)", async () => {
    const run = await new Promise<Run>((resolve) => {
        execFile("npx", ["--no-install", "localleap", "--version"], { cwd: ROOT }, (error, stdout, stderr) =>
            resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }));
    });
    expect(run.stderr).not.toContain("Permission denied");
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
});

test("--help lists the commands", async () => {
    const run = await cli(["--help"]);
    expect(run.code).toBe(0);
    for (const command of ["generate", "chat", "info", "build"]) expect(run.stdout).toMatch(new RegExp(`\\n {2}${command} `));
    expect(run.stdout).not.toMatch(/\n {2}bench /); // repository-only: npm run bench
});
