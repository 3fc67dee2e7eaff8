// Threads: a failed load ends its worker thread at once, and `threads` beyond the cores does not
// stall the process.
import { describe, expect, test } from "@jest/globals";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadModel } from "../../lib";
import { LLADA_FIXTURE } from "../support/fixtures";

const threadCount = () => readdirSync("/proc/self/task").length;

describe("worker threads", () => {
    test("200 failed loads do not grow the process's thread count", async () => {
        const dir = mkdtempSync(path.join(tmpdir(), "localleap-threads-"));
        const corrupt = path.join(dir, "corrupt.pt");
        writeFileSync(corrupt, "not a zip archive");
        try {
            const failOnce = () => loadModel({ modelPath: corrupt, device: "cpu" }).then(
                () => "loaded",
                (error: { code: string }) => error.code,
            );
            for (let i = 0; i < 5; i++) expect(await failOnce()).toBe("MODEL_CORRUPT"); // libuv, addon warm
            const before = threadCount();
            const codes = await Promise.all(Array.from({ length: 200 }, failOnce));
            expect(new Set(codes)).toEqual(new Set(["MODEL_CORRUPT"]));
            expect(threadCount()).toBeLessThanOrEqual(before + 2);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });

    test("threads: 1000 is capped at the core count: loads and generates promptly", async () => {
        const model = await loadModel({ modelPath: LLADA_FIXTURE, device: "cpu", threads: 1000 });
        try {
            const result = await model.generate([5, 6, 7], { genLength: 16, blockLength: 16 });
            expect(result.tokens).toHaveLength(16);
        } finally {
            await model.dispose();
        }
    }, 30000);
});
