/**
 * unit: pure TypeScript, no addon, no model. native: the built addon and the fixture models
 * (tools/setup.sh makes both). reliability: hostile archives, leaks and limits on the CPU addon. The GPU suite runs on node's test runner (npm run test:gpu).
 */
module.exports = {
    testTimeout: 120000,
    projects: [
        { displayName: "unit", preset: "ts-jest", testEnvironment: "node", roots: ["<rootDir>/test/unit"], testMatch: ["**/*.test.ts"] },
        {
            displayName: "native",
            preset: "ts-jest",
            testEnvironment: "node",
            roots: ["<rootDir>/test/native"],
            testMatch: ["**/*.test.ts"],
            globalSetup: "<rootDir>/test/native/globalSetup.ts",
        },
        {
            // Hostile archives (written by the tests with torch), resource leaks, native limits.
            displayName: "reliability",
            preset: "ts-jest",
            testEnvironment: "node",
            roots: ["<rootDir>/test/reliability"],
            testMatch: ["**/*.test.ts"],
            globalSetup: "<rootDir>/test/native/globalSetup.ts",
        },
    ],
};
