// The model's cached-call gate (lib/generation/CachedCallGate.ts): one call in the engine at a
// time, arrival order, aborts while waiting leave at once, a failing submit frees the gate.
import { describe, expect, test } from "@jest/globals";
import { AbortError } from "../../lib";
import { CachedCallGate } from "../../lib/generation/CachedCallGate";

function deferred<T>() {
    let resolve!: (v: T) => void, reject!: (e: unknown) => void;
    const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
    return { promise, resolve, reject };
}
const tick = () => new Promise((r) => setImmediate(r));

describe("CachedCallGate", () => {
    test("submits one call at a time, in arrival order, each when the one before settled", async () => {
        const gate = new CachedCallGate();
        const work = [deferred<string>(), deferred<string>(), deferred<string>()];
        const submitted: number[] = [];
        const results = work.map((w, i) => gate.admit(() => (submitted.push(i), w.promise), undefined, "aborted")
            .then((value) => ({ value }), (error: Error) => ({ error: error.message })));
        await tick();
        expect(submitted).toEqual([0]);
        expect(gate.size).toBe(3);
        work[0]?.resolve("a");
        await tick();
        expect(submitted).toEqual([0, 1]);
        work[1]?.reject(new Error("engine failed"));
        await tick();
        expect(submitted).toEqual([0, 1, 2]);
        work[2]?.resolve("c");
        expect(await Promise.all(results)).toEqual([{ value: "a" }, { error: "engine failed" }, { value: "c" }]);
        await gate.drained();
        expect(gate.size).toBe(0);
    });

    test("an abort while waiting rejects at once with AbortError, submits nothing and lets later calls go", async () => {
        const gate = new CachedCallGate();
        const first = deferred<number>();
        const controller = new AbortController();
        const submitted: string[] = [];
        const a = gate.admit(() => (submitted.push("a"), first.promise), undefined, "aborted");
        const b = gate.admit(() => (submitted.push("b"), Promise.resolve(2)), controller.signal, "b was aborted");
        const c = gate.admit(() => (submitted.push("c"), Promise.resolve(3)), undefined, "aborted");
        controller.abort();
        await expect(b).rejects.toBeInstanceOf(AbortError);
        await expect(b).rejects.toThrow("b was aborted");
        expect(submitted).toEqual(["a"]);
        first.resolve(1);
        await expect(a).resolves.toBe(1);
        await expect(c).resolves.toBe(3);
        expect(submitted).toEqual(["a", "c"]);
    });

    test("a signal already aborted never submits; a submit that throws frees the gate", async () => {
        const gate = new CachedCallGate();
        const controller = new AbortController();
        controller.abort();
        let ran = false;
        await expect(gate.admit(() => ((ran = true), Promise.resolve(0)), controller.signal, "aborted")).rejects.toBeInstanceOf(AbortError);
        expect(ran).toBe(false);
        await expect(gate.admit(() => { throw new Error("bad input"); }, undefined, "aborted")).rejects.toThrow("bad input");
        await expect(gate.admit(() => Promise.resolve("next"), undefined, "aborted")).resolves.toBe("next");
    });

    test("drained() waits for every call admitted so far", async () => {
        const gate = new CachedCallGate();
        const w = deferred<void>();
        void gate.admit(() => w.promise, undefined, "aborted");
        let drained = false;
        void gate.drained().then(() => (drained = true));
        await tick();
        expect(drained).toBe(false);
        w.resolve();
        await tick();
        await tick();
        expect(drained).toBe(true);
    });
});
