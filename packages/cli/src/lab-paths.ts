// Where the lab keeps its local state: `.ddia/` at the repository root (git-ignored), or
// DDIA_HOME when set (tests use a temp dir).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

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
