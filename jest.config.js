/** Three Jest projects: unit (next to the source), int (real Postgres and Redis), e2e (three processes over HTTP). */
const transform = { '^.+\\.ts$': ['@swc/jest'] };
const moduleNameMapper = {
  // A dynamic import names the compiled file (`./x.js`); under Jest that is the source, `./x.ts`.
  '^(\\.{1,2}/.*)\\.js$': '$1',
  '^@rosetta/(core|proto|platform)$': '<rootDir>/packages/$1/src/index.ts',
  '^@rosetta/(api|gateway|worker)$': '<rootDir>/apps/$1/src/index.ts',
};
const common = { transform, moduleNameMapper, testEnvironment: 'node', rootDir: __dirname };

module.exports = {
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/{apps,packages}/*/src/**/*.test.ts', '<rootDir>/test/deploy/**/*.test.ts'],
      testPathIgnorePatterns: ['\\.int\\.test\\.ts$', '\\.e2e\\.test\\.ts$'],
    },
    {
      ...common,
      displayName: 'int',
      testMatch: ['<rootDir>/{apps,packages}/*/src/**/*.int.test.ts', '<rootDir>/test/int/**/*.int.test.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.e2e.test.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
  ],
};
