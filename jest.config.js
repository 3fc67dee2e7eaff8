/**
 * unit: pure TypeScript, no addon, no model. native: the built addon and the fixture models
 * (tools/setup.sh makes both). reliability: hostile archives, bad input, leaks and limits on the
 * CPU addon. package: the packed package installed in a fresh project (run on its own: packing
 * rebuilds dist/). The GPU suite runs on node's test runner (npm run test:gpu).
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
            // Hostile archives (written by the tests with torch), bad input, resource leaks, native limits.
            displayName: "reliability",
            preset: "ts-jest",
            testEnvironment: "node",
            roots: ["<rootDir>/test/reliability"],
            testMatch: ["**/*.test.ts"],
            globalSetup: "<rootDir>/test/native/globalSetup.ts",
        },
        // npm pack + install into a fresh project: run on its own (npm test), as packing rebuilds dist/.
        { displayName: "package", preset: "ts-jest", testEnvironment: "node", roots: ["<rootDir>/test/package"], testMatch: ["**/*.test.ts"], testTimeout: 1500000 },
    ],
};
