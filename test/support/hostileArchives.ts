import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ROOT, torchPython } from "./fixtures";

/** The files the hostile archives would read or write, and what they must still hold. */
export const SECRET_TEXT = "the secret, never to be read\n";
export const VICTIM_TEXT = "this file must not change\n";

export interface HostileArchives {
    dir: string;
    /** Path of archive `name` (test/support/make_hostile_archives.py lists them). */
    archive(name: string): string;
    secret: string;
    victim: string;
    /** Files the archives would create. */
    writtenByForward: string;
    writtenBySetstate: string;
}

/** Writes the hostile archives with torch into a fresh temp folder (a few seconds). */
export function makeHostileArchives(): HostileArchives {
    const dir = mkdtempSync(path.join(tmpdir(), "localleap-hostile-"));
    const secret = path.join(dir, "secret.txt");
    const victim = path.join(dir, "victim.txt");
    writeFileSync(secret, SECRET_TEXT);
    writeFileSync(victim, VICTIM_TEXT);
    execFileSync(torchPython(), [path.join(ROOT, "test", "support", "make_hostile_archives.py"), dir], { stdio: ["ignore", "ignore", "inherit"] });
    return {
        dir,
        archive: (name) => path.join(dir, `${name}.pt`),
        secret,
        victim,
        writtenByForward: path.join(dir, "written-by-forward.bin"),
        writtenBySetstate: path.join(dir, "written-by-setstate.bin"),
    };
}
