// The list of test projects, one per package. Vitest 4 does not read this file on its own:
// vitest.config.ts imports it into `test.projects`, so every package listed here really runs.
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// Every folder under packages/ with a package.json is a test project: a new package's tests
// run without anyone remembering to list it here.
export const packages = readdirSync(new URL('./packages/', import.meta.url), { withFileTypes: true })
  .filter(
    (entry) =>
      entry.isDirectory() && existsSync(new URL(`./packages/${entry.name}/package.json`, import.meta.url)),
  )
  .map((entry) => entry.name)
  .sort();

const root = fileURLToPath(new URL('.', import.meta.url));

export const projects = packages.map((name) => ({
  resolve: {
    // Tests run against the TypeScript sources of sibling packages, not their dist/.
    alias: [
      { find: /^@ddia\/([a-z-]+)\/core$/, replacement: `${root}packages/$1/src/core/index.ts` },
      { find: /^@ddia\/([a-z-]+)$/, replacement: `${root}packages/$1/src/index.ts` },
    ],
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
