// The list of test projects, two per package. Vitest 4 does not read this file on its own:
// vitest.config.ts imports it into `test.projects`, so every package listed here really runs.
//
// Two projects per package because the machine the lab targets has 2 cores:
//   - `<package>` holds the files that run ALONE, one at a time (sequence.groupOrder 1, after
//     the others): anything that starts processes or servers, talks over sockets, mounts LazyFS,
//     reads the clock or waits on timers. Two of those side by side on 2 cores make timeouts and
//     elections flaky, and a flaky test fails CI for everyone.
//   - `<package>:unit` holds the rest (pure cores, property tests, in-process fault-injected
//     file systems), two files at a time (groupOrder 0, first).
// `pnpm test` in a package runs both (its script names both projects). The sorting is by the
// file's text (RUNS_ALONE below), conservative on purpose: a test that imports a support module
// runs alone too, since support modules are where the clusters and brokers are started.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
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

/** Text that makes a test file run alone: processes, sockets, servers, clocks, timers, support
 *  modules. Calls and names, not words: a pure simulation's `Cluster` class, a comment about a
 *  `kill -9` or a `new Proxy(...)` object do not make a file slow or timing-sensitive. */
const RUNS_ALONE =
  /child_process|spawn|fork\(|exec\(|execFile|runCrashChild|ChildProcess|SIG[A-Z]+|\.kill\(|startCluster|[Nn]emesis\(|new Nemesis|listen\(|createServer|startBroker|startService|startNode|buildServer|fetch\(|HttpClient|undici|setTimeout|setInterval|Date\.now|performance\.now|LazyFS|lazyfs|harness|LinkProxy|ProxyNetwork|startProxyDaemon|ProxyControlClient|postgres|docker|\/support\//;

/** Workers for the files that may share the machine (the `:unit` projects). */
const UNIT_WORKERS = 2;

function testFiles(pkg: string): string[] {
  const dir = `${root}packages/${pkg}/test`;
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => `test/${f}`);
}

function runsAlone(pkg: string, file: string): boolean {
  return (
    file.includes('.it.test.') || RUNS_ALONE.test(readFileSync(`${root}packages/${pkg}/${file}`, 'utf8'))
  );
}

const shared = (name: string) => ({
  resolve: {
    // Tests run against the TypeScript sources of sibling packages, not their dist/.
    alias: [
      { find: /^@ddia\/([a-z-]+)\/core$/, replacement: `${root}packages/$1/src/core/index.ts` },
      { find: /^@ddia\/([a-z-]+)$/, replacement: `${root}packages/$1/src/index.ts` },
    ],
  },
  test: {
    root: `${root}packages/${name}`,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});

export const projects = packages.flatMap((name) => {
  const base = shared(name);
  const files = testFiles(name);
  const unit = files.filter((f) => !runsAlone(name, f));
  return [
    {
      ...base,
      test: {
        ...base.test,
        name,
        // src/**: tests kept beside the code run alone too (none today).
        include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
        exclude: unit,
        maxWorkers: 1,
        sequence: { groupOrder: 1 },
      },
    },
    {
      ...base,
      test: {
        ...base.test,
        name: `${name}:unit`,
        // An empty list would fall back to vitest's default pattern: match nothing instead.
        include: unit.length > 0 ? unit : ['test/no-unit-tests.none'],
        maxWorkers: UNIT_WORKERS,
        sequence: { groupOrder: 0 },
      },
    },
  ];
});

export default projects;
