// Commands that the CLI hands to chapter packages: the same code the packages test, reached
// the way a user types it.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const cli = fileURLToPath(new URL('../dist/main.js', import.meta.url));

function ddia(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('ddia demo transactions', () => {
  it('tells the write-skew story at every isolation level', () => {
    const r = ddia('demo', 'transactions');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('write skew');
    for (const level of ['read-committed', 'repeatable-read', 'serializable', 'serializable-2pl', 'serial']) {
      expect(r.out).toContain(level);
    }
  });

  it('refuses an unknown demo', () => {
    expect(ddia('demo', 'nothing').code).toBe(2);
  });
});

describe('ddia schema migrate', () => {
  it('answers a usage error with exit code 2', () => {
    const r = ddia('schema', 'migrate', '--no-such-flag');
    expect(r.code).toBe(2);
    expect(r.err.length).toBeGreaterThan(0);
  });
});
