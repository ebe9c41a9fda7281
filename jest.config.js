// Jest runs the TypeScript tests through ts-jest; end-to-end suites live in test/e2e.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.json", diagnostics: { warnOnly: false } }] },
  // The local tools import the package by name, as a user's program does; under ts-jest that name is the sources.
  moduleNameMapper: {
    "^do-image$": "<rootDir>/provider/index.ts",
    "^do-image/pulumi$": "<rootDir>/provider/pulumi/index.ts",
    "^do-image/cdktf$": "<rootDir>/provider/cdktf/index.ts",
    "^do-image/internal$": "<rootDir>/provider/internal.ts",
  },
  // Suites that run the built CLI run the sources as they are now: a stale dist/ is rebuilt first.
  globalSetup: "<rootDir>/test/support/global-setup.ts",
  testTimeout: 120000,
  maxWorkers: 2,
};
