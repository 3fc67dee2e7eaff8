// The public API end to end on the CPU addon: stream() and onStep events, abort within one
// step, batches equal to single calls, many concurrent calls, the queue limit and disposal.
// Random-weight fixture models for speed; the trained reference model where the text matters.
import { afterAll, beforeAll, describe, expect, jest, test } from "@jest/globals";
import {
    AbortError,
    type ChatMessage,
    type GenerateInput,
    type GenerateOptions,
    type GenerateResult,
    InvalidInputError,
    loadModel,
    type Model,
    ModelDisposedError,
    QueueFullError,
    type StepEvent,
    type StreamEvent,
    BLOCK_STRATEGIES as STRATEGIES,
} from "../../lib";
import { defaultModelPath } from "../../lib/utils/defaultModelPath";
import { DREAM_FIXTURE, LLADA_FIXTURE } from "../support/fixtures";

// The fixtures carry no learned filter: strategy "learned" is covered by learnedFilter.test.ts.
const FIXTURE_STRATEGIES = STRATEGIES.filter((s) => s !== "learned");

/** A result without its wall-clock figures, which differ between any two runs. */
function comparable(result: GenerateResult): Omit<GenerateResult, "timings"> {
    const { timings, ...rest } = result;
    void timings;
    return rest;
}

const maskCount = (text: string) => [...text].filter((c) => c === "░").length;

/** One token per step: many steps, so that aborts land mid-generation. */
const SLOW: GenerateOptions = { genLength: 64, blockLength: 16, strategy: "low-confidence" };

let llada: Model;
beforeAll(async () => {
    llada = await loadModel({ modelPath: LLADA_FIXTURE, device: "cpu" });
});
afterAll(async () => {
    await llada?.dispose();
});

describe("stream()", () => {
    const cases: [string, GenerateOptions][] = [
        // raw: plain text, so that the random-weight fixture's canvas has masks before its first end token.
        ["localleap", { genLength: 64, blockLength: 16, raw: true }],
        ["low-confidence, 2 tokens a step", { genLength: 64, blockLength: 16, strategy: "low-confidence", steps: 32, raw: true }],
        ["threshold", { genLength: 48, blockLength: 16, strategy: "threshold", threshold: 0.5, raw: true }],
    ];

    test.each(cases)("%s: step and text events in order, then one done event with generate()'s result", async (_name, options) => {
        const stream = llada.stream("The canvas fills in", options);
        const events: StreamEvent[] = [];
        for await (const event of stream) events.push(event);
        const expected = await llada.generate("The canvas fills in", options);

        const last = events[events.length - 1];
        expect(last?.type).toBe("done");
        const steps = events.filter((e): e is StepEvent => e.type === "step");
        expect(events.slice(0, -1).every((e) => (e.type === "step" || e.type === "text") && e.index === 0)).toBe(true);
        expect(events[0]?.type).toBe("step");
        const result = (last as Extract<StreamEvent, { type: "done" }>).result;
        expect(comparable(result)).toEqual(comparable(expected));
        expect(await stream.result).toBe(result);

        // One event per forward pass (a single input commits something every step), numbered from 0.
        expect(steps.map((e) => e.step)).toEqual(Array.from({ length: result.steps }, (_, i) => i));
        const blockLength = options.blockLength as number;
        const seen = new Set<number>();
        let previousBlock = 0;
        let previousMasks = Infinity;
        for (const event of steps) {
            expect(event.block).toBeGreaterThanOrEqual(previousBlock);
            previousBlock = event.block;
            expect(event.committed.length).toBeGreaterThan(0);
            for (const { position } of event.committed) {
                expect(seen.has(position)).toBe(false); // each position is committed once
                seen.add(position);
                expect(Math.floor(position / blockLength)).toBe(event.block);
            }
            const masks = maskCount(event.text);
            expect(masks).toBeLessThanOrEqual(previousMasks); // the canvas only fills in
            previousMasks = masks;
        }
        expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: options.genLength as number }, (_, i) => i));
        expect(maskCount(steps[0]?.text ?? "")).toBeGreaterThan(0);
        expect(steps[steps.length - 1]?.text).toBe(result.text);
        // The final-text events join to the result's text.
        expect(events.map((e) => (e.type === "text" ? e.text : "")).join("")).toBe(result.text);
    });

    test("onStep receives the same step events as stream()", async () => {
        const options: GenerateOptions = { genLength: 64, blockLength: 32, temperature: 0.7, seed: 11 };
        const streamed: StreamEvent[] = [];
        for await (const event of llada.stream("same events", options)) streamed.push(event);
        const called: StepEvent[] = [];
        const result = await llada.generate("same events", { ...options, onStep: (event) => called.push(event) });
        expect(called).toEqual(streamed.filter((e) => e.type === "step"));
        expect(comparable(result)).toEqual(comparable((streamed[streamed.length - 1] as { result: GenerateResult }).result));
    });

    test("a custom maskGlyph shows in the canvas", async () => {
        const events: StepEvent[] = [];
        await llada.generate("glyph", { genLength: 32, maskGlyph: "_", onStep: (e) => events.push(e) });
        expect(events[0]?.text).toContain("_");
        expect(events[0]?.text).not.toContain("░");
    });

    test("leaving the loop early aborts the generation; the model stays usable", async () => {
        const baseline = await llada.generate("stay usable", SLOW);
        const stream = llada.stream("left early", SLOW);
        let seen = 0;
        for await (const event of stream) {
            expect(event.type).not.toBe("done");
            if (++seen === 3) break;
        }
        await expect(stream.result).rejects.toBeInstanceOf(AbortError);
        expect(comparable(await llada.generate("stay usable", SLOW))).toEqual(comparable(baseline));
    });

    test("options.signal aborts a stream: the loop throws AbortError", async () => {
        const controller = new AbortController();
        const events: StreamEvent[] = [];
        const consume = async () => {
            for await (const event of llada.stream("signal", { ...SLOW, signal: controller.signal })) {
                events.push(event);
                if (events.length === 2) controller.abort();
            }
        };
        await expect(consume()).rejects.toMatchObject({ code: "ABORTED" });
        // Each step brings at most a step event and a text event; the abort lands within a step.
        expect(events.length).toBeLessThanOrEqual(6);
        expect(events.every((e) => e.type !== "done")).toBe(true);
    });
});

describe("abort", () => {
    let baseline: GenerateResult;
    beforeAll(async () => {
        baseline = await llada.generate("after an abort", SLOW);
    });

    test.each([0, 5, 40])("abort from onStep at step %d: AbortError, no step event after it, the model still generates correctly", async (k) => {
        const controller = new AbortController();
        const steps: number[] = [];
        const call = llada.generate("abort me", {
            ...SLOW,
            signal: controller.signal,
            onStep: (event) => {
                steps.push(event.step);
                if (event.step === k) controller.abort();
            },
        });
        const error = await call.then(() => null, (e: unknown) => e);
        expect(error).toBeInstanceOf(AbortError);
        expect(error).toMatchObject({ code: "ABORTED" });
        // The call rejected at the abort: a step the engine still ran reaches no callback.
        await new Promise((resolve) => setTimeout(resolve, 100));
        expect(steps.filter((s) => s > k)).toEqual([]);
        expect(Math.max(...steps)).toBeLessThan(baseline.steps - 1);
        expect(comparable(await llada.generate("after an abort", SLOW))).toEqual(comparable(baseline));
    });

    test("an already-aborted signal rejects at once, without a native call", async () => {
        // The addon's methods are read-only on its prototype: shadow the instance's with a counting wrapper.
        const native = (llada as unknown as { parts: { native: { generate: (...args: unknown[]) => unknown } } }).parts.native;
        const original = native.generate;
        const spy = jest.fn((...args: unknown[]) => original.apply(native, args));
        Object.defineProperty(native, "generate", { value: spy, configurable: true, writable: true });
        const onStep = jest.fn();
        try {
            const started = performance.now();
            await expect(llada.generate("never runs", { ...SLOW, signal: AbortSignal.abort(), onStep })).rejects.toMatchObject({ code: "ABORTED" });
            await expect(llada.generate(["a", "b"], { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
            expect(performance.now() - started).toBeLessThan(200);
            expect(spy).not.toHaveBeenCalled();
            expect(onStep).not.toHaveBeenCalled();
        } finally {
            delete (native as { generate?: unknown }).generate;
        }
        expect(comparable(await llada.generate("after an abort", SLOW))).toEqual(comparable(baseline));
    });

    test("aborting a call that waits behind another: it rejects without a step, the other completes", async () => {
        const controller = new AbortController();
        const waitingSteps: StepEvent[] = [];
        const first = llada.generate("after an abort", SLOW);
        const waiting = llada.generate("queued", { ...SLOW, signal: controller.signal, onStep: (e) => waitingSteps.push(e) });
        controller.abort();
        await expect(waiting).rejects.toBeInstanceOf(AbortError);
        expect(comparable(await first)).toEqual(comparable(baseline));
        expect(waitingSteps).toEqual([]);
    });
});

describe("batch", () => {
    const chat = (...contents: string[]): ChatMessage[] =>
        contents.map((content, i) => ({ role: i % 2 === 0 ? "user" : "assistant", content }));
    const INPUTS: GenerateInput[] = [
        "a short one",
        "a rather longer prompt, so that the rows of the batch have different lengths",
        [7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17],
        Int32Array.from([40, 41, 42]),
        chat("hi"),
        chat("what is two and two", "four", "and three and three?"),
    ];
    const settings: [string, GenerateOptions][] = [
        ["greedy", { genLength: 48, blockLength: 16 }],
        ["stopAtEos, temperature 0.8, seed 7", { genLength: 48, blockLength: 16, stopAtEos: true, temperature: 0.8, seed: 7 }],
    ];
    const models: [string, string][] = [["llada", LLADA_FIXTURE], ["dream", DREAM_FIXTURE]];

    describe.each(models)("%s fixture", (_name, modelPath) => {
        let model: Model;
        beforeAll(async () => {
            model = modelPath === LLADA_FIXTURE ? llada : await loadModel({ modelPath, device: "cpu" });
        });
        afterAll(async () => {
            if (model !== llada) await model?.dispose();
        });

        for (const strategy of FIXTURE_STRATEGIES) {
            test.each(settings)(`${strategy}, %s: each batch result equals the input's single result`, async (_setting, base) => {
                const options = { ...base, strategy, ...(strategy === "low-confidence" || strategy === "random" ? { steps: 24 } : {}) } as GenerateOptions;
                const batch = await model.generate(INPUTS, options);
                expect(batch).toHaveLength(INPUTS.length);
                for (const [i, input] of INPUTS.entries()) {
                    const single = await model.generate(input, options);
                    expect({ i, ...comparable(batch[i] as GenerateResult) }).toEqual({ i, ...comparable(single) });
                }
            });
        }

        test("each row's step events equal the input's own events", async () => {
            const options: GenerateOptions = { genLength: 48, blockLength: 16, stopAtEos: true };
            const byRow: StepEvent[][] = INPUTS.map(() => []);
            await model.generate(INPUTS, { ...options, onStep: (e) => byRow[e.index]?.push(e) });
            for (const [i, input] of INPUTS.entries()) {
                const own: StepEvent[] = [];
                await model.generate(input, { ...options, onStep: (e) => own.push(e) });
                // Step numbers are the batch's forward passes; what each row committed, and its canvas, are its own.
                const strip = (events: StepEvent[]) => events.map(({ block, committed, text }) => ({ block, committed, text }));
                expect({ i, events: strip(byRow[i] as StepEvent[]) }).toEqual({ i, events: strip(own) });
            }
        });
    });

    test("a batch of one is a one-element array; an empty batch is refused", async () => {
        const [one] = await llada.generate(["alone"], { genLength: 16 });
        expect(comparable(one as GenerateResult)).toEqual(comparable(await llada.generate("alone", { genLength: 16 })));
        await expect(llada.generate([], {})).rejects.toBeInstanceOf(InvalidInputError);
    });
});

describe("concurrency", () => {
    test("50 concurrent generate() calls all complete with the results they give one at a time", async () => {
        const calls = Array.from({ length: 50 }, (_, i): [string, GenerateOptions] => [
            `prompt number ${i}${" more".repeat(i % 7)}`,
            {
                genLength: 32,
                blockLength: i % 2 === 0 ? 16 : 32,
                strategy: FIXTURE_STRATEGIES[i % FIXTURE_STRATEGIES.length],
                ...(i % 3 === 0 ? { temperature: 0.9, seed: i } : {}),
            },
        ]);
        const sequential: GenerateResult[] = [];
        for (const [prompt, options] of calls) sequential.push(await llada.generate(prompt, options));
        const concurrent = await Promise.all(calls.map(([prompt, options]) => llada.generate(prompt, options)));
        expect(concurrent.map(comparable)).toEqual(sequential.map(comparable));
    });

    test("QueueFullError (QUEUE_FULL) once maxQueuedGenerations calls wait; the queue frees as they finish", async () => {
        const model = await loadModel({ modelPath: LLADA_FIXTURE, device: "cpu", maxQueuedGenerations: 3 });
        try {
            const running = [model.generate("one", SLOW), model.generate(["two", "three"], SLOW), model.stream("four", SLOW).result];
            const overflow = model.generate("five", SLOW);
            await expect(overflow).rejects.toBeInstanceOf(QueueFullError);
            await expect(overflow).rejects.toMatchObject({ code: "QUEUE_FULL" });
            await expect(model.stream("six", SLOW).result).rejects.toMatchObject({ code: "QUEUE_FULL" });
            const results = await Promise.all(running);
            expect(results).toHaveLength(3);
            // Finished calls leave the queue.
            await expect(Promise.all([model.generate("seven", SLOW), model.generate("eight", SLOW)])).resolves.toHaveLength(2);
        } finally {
            await model.dispose();
        }
    });
});

describe("dispose", () => {
    test("dispose() waits for in-flight and queued work; later calls reject with ModelDisposedError", async () => {
        const model = await loadModel({ modelPath: LLADA_FIXTURE, device: "cpu" });
        const expected = await llada.generate("in flight", SLOW);
        const order: string[] = [];
        const first = model.generate("in flight", SLOW).then((r) => (order.push("first"), r));
        const second = model.generate("in flight", SLOW).then((r) => (order.push("second"), r));
        const disposed = model.dispose().then(() => order.push("disposed"));
        expect(model.disposed).toBe(true);
        expect(model.dispose()).toBe(model.dispose()); // idempotent: one promise
        await expect(model.generate("too late", SLOW)).rejects.toBeInstanceOf(ModelDisposedError);
        expect(comparable(await first)).toEqual(comparable(expected));
        expect(comparable(await second)).toEqual(comparable(expected));
        await disposed;
        expect(order).toEqual(["first", "second", "disposed"]);
        await expect(model.generate("too late", SLOW)).rejects.toMatchObject({ code: "MODEL_DISPOSED" });
        await expect(model.stream("too late").result).rejects.toBeInstanceOf(ModelDisposedError);
    });

    test("`await using` disposes the model at the end of the scope (Symbol.asyncDispose)", async () => {
        let escaped: Model | undefined;
        {
            await using model = await loadModel({ modelPath: LLADA_FIXTURE, device: "cpu" });
            escaped = model;
            expect((await model.generate("scoped", { genLength: 16 })).tokens.length).toBeGreaterThanOrEqual(0);
            expect(model.disposed).toBe(false);
        }
        expect(escaped.disposed).toBe(true);
        await expect(escaped.generate("after the scope")).rejects.toBeInstanceOf(ModelDisposedError);
        await expect(escaped[Symbol.asyncDispose]()).resolves.toBeUndefined();
    });
});

describe("reference model", () => {
    test("the canvas of a chat answer fills in to the final answer", async () => {
        await using model = await loadModel({ modelPath: defaultModelPath(), device: "cpu" });
        const messages: ChatMessage[] = [{ role: "user", content: "Tom has 3 apples and buys 5 more. How many apples does he have?" }];
        const texts: string[] = [];
        let result: GenerateResult | undefined;
        for await (const event of model.stream(messages, { genLength: 64, stopAtEos: true })) {
            if (event.type === "step") texts.push(event.text);
            else if (event.type === "done") result = event.result;
        }
        expect(result?.finishReason).toBe("eos");
        // Trained on worked solutions that end in an answer line.
        expect(result?.text).toMatch(/(####|answer is)\s*\d+/);
        expect(result?.text).toMatch(/apples/);
        expect(texts.length).toBe(result?.steps);
        expect(maskCount(texts[0] as string)).toBeGreaterThan(0);
        expect(texts[texts.length - 1]).toBe(result?.text);
        expect(result?.steps).toBeLessThan(64); // parallel decoding: fewer steps than tokens
    });
});
