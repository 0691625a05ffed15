// Where the lab keeps its local state: `.ddia/` at the repository root (git-ignored), or
// DDIA_HOME when set (tests use a temp dir); and DDIA_PORT_OFFSET, added to every port of the
// topology, so two labs (or a test and a lab) can run side by side.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CommandError, EXIT_USAGE } from '@ddia/common';

/** Largest DDIA_PORT_OFFSET: every port of the topology plus its proxies stays below 65536. */
const PORT_OFFSET_MAX = 38_000;

/** The repository root: the folder holding pnpm-workspace.yaml above this file. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'pnpm-workspace.yaml'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the repository root (pnpm-workspace.yaml)');
    dir = parent;
  }
  return dir;
}

export function labHome(): string {
  return resolve(process.env.DDIA_HOME ?? join(repoRoot(), '.ddia'));
}

export function serviceEntry(pkg: string): string {
  return join(repoRoot(), 'packages', pkg, 'dist', 'main.js');
}

/** DDIA_PORT_OFFSET (default 0): added to every node, proxy and landing-page port of the lab. */
export function portOffset(): number {
  const text = process.env.DDIA_PORT_OFFSET;
  if (text === undefined || text === '') return 0;
  const offset = Number(text);
  if (!/^\d+$/.test(text) || offset > PORT_OFFSET_MAX) {
    throw new CommandError(
      `DDIA_PORT_OFFSET must be an integer from 0 to ${PORT_OFFSET_MAX}, not '${text}'`,
      EXIT_USAGE,
    );
  }
  return offset;
}
