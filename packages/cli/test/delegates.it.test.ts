// Commands that the CLI hands to chapter packages: the same code the packages test, reached
// the way a user types it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

describe('ddia geo', () => {
  it('lists one experiment per line, its name first', () => {
    const r = ddia('geo', 'list');
    expect(r.code, r.err).toBe(0);
    const names = r.out
      .trim()
      .split('\n')
      .map((line) => line.split(/\s+/)[0]);
    expect(names).toEqual(expect.arrayContaining(['pbs-paper', 'raft-regions', 'leaderless-visibility']));
  });

  it('runs the PBS model and writes report.md with its plots, progress on stderr', () => {
    const out = mkdtempSync(join(tmpdir(), 'ddia-geo-'));
    try {
      const r = ddia('geo', 'run', 'pbs-paper', '--out', out, '--quick', '--seed', '7');
      expect(r.code, r.err).toBe(0);
      expect(r.out.trim()).toBe(join(out, 'report.md'));
      expect(r.err).toMatch(/\[pbs-paper\] +100% /);
      const report = readFileSync(join(out, 'report.md'), 'utf8');
      // The paper's published LNKD-SSD figure beside ours.
      expect(report).toMatch(
        /\| lnkd-ssd +\| 1 +\| 1 +\| t for 99\.9% consistent reads \(ms\) +\| 1\.85 +\| \d/,
      );
      expect(existsSync(join(out, 't-visibility-ymmr.svg'))).toBe(true);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('answers bad arguments with exit 2 and the usage line', () => {
    for (const args of [['run'], ['run', 'nope', '--out', '/tmp/x'], ['run', 'pbs-paper'], ['fly']]) {
      const r = ddia('geo', ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toContain('usage: ddia geo');
    }
  });
});
