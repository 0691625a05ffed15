// The list of test projects, one per package. Vitest 4 does not read this file on its own:
// vitest.config.ts imports it into `test.projects`, so every package listed here really runs.
import { fileURLToPath } from 'node:url';

export const packages = [
  'common',
  'testkit',
  'cli',
  'lsm-engine',
  'raft',
  'kv-store',
  'schema-evolution',
  'transactions',
] as const;

const root = fileURLToPath(new URL('.', import.meta.url));

export const projects = packages.map((name) => ({
  resolve: {
    // Tests run against the TypeScript sources of sibling packages, not their dist/.
    alias: [{ find: /^@ddia\/([a-z-]+)$/, replacement: `${root}packages/$1/src/index.ts` }],
  },
  test: {
    name,
    root: `${root}packages/${name}`,
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
}));

export default projects;
