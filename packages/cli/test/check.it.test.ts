import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const cli = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const etcd = fileURLToPath(new URL('../../../../shared/data/histories/jepsen-etcd/', import.meta.url));
const haveData = existsSync(etcd);
if (!haveData) console.warn(`shared histories not found at ${etcd}: skipping \`ddia check\` on Jepsen data`);

function ddia(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('ddia check linearizable', () => {
  it.skipIf(!haveData)('prints a verdict per file and exits 1 when any is not linearizable', () => {
    const ok = ddia(
      'check',
      'linearizable',
      '--model',
      'cas-register',
      '--format',
      'jepsen-log',
      join(etcd, 'etcd_002.log'),
    );
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/etcd_002\.log: linearizable/);
    const bad = ddia(
      'check',
      'linearizable',
      '--model',
      'cas-register',
      '--format',
      'jepsen-log',
      join(etcd, 'etcd_000.log'),
      join(etcd, 'etcd_002.log'),
    );
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/etcd_000\.log: NOT linearizable/);
  });

  it('exits 2 on an unreadable file, naming the line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ddia-check-'));
    const file = join(dir, 'broken.json');
    writeFileSync(file, '[{"process": 0, "type": "invoke"');
    const r = ddia('check', 'linearizable', '--model', 'kv', '--format', 'json', file);
    expect(r.code).toBe(2);
    expect(r.err + r.out).toMatch(/line \d+|:\d+:/);
  });
});
