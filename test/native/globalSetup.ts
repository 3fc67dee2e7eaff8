import { ensureFixtures } from "../support/fixtures";

/** Jest global set-up for the native suites: the fixture models must exist before any test. */
export default function globalSetup(): void {
    ensureFixtures();
}
