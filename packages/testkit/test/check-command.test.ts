// `ddia check linearizable`, run as a function: output lines, exit codes, parse errors.

import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CHECK_EXIT } from '../src/check-command.js';
import { runCheck } from './run-check.js';

const fixtures = fileURLToPath(new URL('./fixtures/histories/', import.meta.url));
const shared = fileURLToPath(new URL('../../../../shared/data/histories/', import.meta.url));
const sharedPresent = existsSync(shared);
const scratch = mkdtempSync(join(tmpdir(), 'ddia-check-'));

const run = runCheck;

function scratchFile(name: string, text: string): string {
  const path = join(scratch, name);
  writeFileSync(path, text);
  return path;
}

describe('ddia check linearizable', () => {
  it('exit 0 and one line per file when all are linearizable', async () => {
    const a = `${fixtures}concurrent-valid.json`;
    const b = `${fixtures}info-never-takes-effect.json`;
    const r = await run('linearizable', '--model', 'cas-register', '--format', 'json', a, b);
    expect(r).toEqual({ code: CHECK_EXIT.ok, out: `${a}: linearizable\n${b}: linearizable\n`, err: '' });
  });

  it('exit 1 when any is not; --verbose explains', async () => {
    const a = `${fixtures}concurrent-valid.json`;
    const b = `${fixtures}stale-read.json`;
    const r = await run(
      'check',
      'linearizable',
      '--model',
      'cas-register',
      '--format',
      'json',
      '--verbose',
      a,
      b,
    );
    expect(r.code).toBe(CHECK_EXIT.notLinearizable);
    expect(r.out).toMatch(new RegExp(`^${a}: linearizable\n(  .*\n)*${b}: NOT linearizable\n`));
    expect(r.out).toContain('none of these can come next');
  });

  it.skipIf(!sharedPresent)('reads the Jepsen formats', async () => {
    const log = await run(
      'linearizable',
      '--model',
      'cas-register',
      '--format',
      'jepsen-log',
      `${shared}jepsen-etcd/etcd_002.log`,
    );
    expect(log.out).toMatch(/etcd_002\.log: linearizable\n$/);
    const edn = await run(
      'linearizable',
      '--model',
      'kv',
      '--format',
      'jepsen-edn',
      `${shared}kv/c10-bad.txt`,
    );
    expect(edn.code).toBe(1);
    expect(edn.out).toMatch(/c10-bad\.txt: NOT linearizable\n$/);
  });

  it('exit 2 on an unparseable file, naming the line and what was expected', async () => {
    const bad = scratchFile(
      'bad.log',
      'INFO  jepsen.util - 0\t:invoke\t:write\t1\nINFO  jepsen.util - 0\t:ok\t:write\t[1 2\n',
    );
    const r = await run('linearizable', '--model', 'cas-register', '--format', 'jepsen-log', bad);
    expect(r.code).toBe(CHECK_EXIT.error);
    expect(r.err).toContain(
      `${bad}:2:38: expected ']' to close the collection opened at line 2, column 34, found end of input`,
    );
    const orphan = scratchFile('orphan.jsonl', '{"process":0,"type":"ok","f":"read","value":1,"timeMs":0}\n');
    const r2 = await run('linearizable', '--model', 'cas-register', '--format', 'json', orphan);
    expect(r2.code).toBe(2);
    expect(r2.err).toContain(`${orphan}:1: expected an invoke by process 0`);
  });

  it('exit 2 on a missing file, but still checks the others', async () => {
    const good = `${fixtures}stale-read.json`;
    const r = await run(
      'linearizable',
      '--model',
      'cas-register',
      '--format',
      'json',
      '/nonexistent/h.json',
      good,
    );
    expect(r.code).toBe(2);
    expect(r.err).toContain('/nonexistent/h.json: cannot read');
    expect(r.out).toBe(`${good}: NOT linearizable\n`);
  });

  it('exit 2 when the model does not fit the history', async () => {
    const r = await run(
      'linearizable',
      '--model',
      'cas-register',
      '--format',
      'json',
      `${fixtures}kv-stale-get.jsonl`,
    );
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      `${fixtures}kv-stale-get.jsonl:1: cas-register model: expected a cas-register operation (read, write, cas), not "put" (is --model right?)\n`,
    );
  });

  it('exit 2 naming the history line of an operation the model does not know', async () => {
    const f = scratchFile(
      'unknown-f.edn',
      '{:process 0, :type :invoke, :f :get, :key "1", :value nil}\n' +
        '{:process 0, :type :ok, :f :get, :key "1", :value ""}\n' +
        '{:process :nemesis, :type :info, :f :start}\n' +
        '{:process 1, :type :invoke, :f :increment, :key "1", :value 1}\n' +
        '{:process 1, :type :ok, :f :increment, :key "1", :value 1}\n',
    );
    const r = await run('linearizable', '--model', 'kv', '--format', 'jepsen-edn', f);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(new RegExp(`^${f}:4: kv model: expected a kv operation .*"increment"`));
  });

  it('--verbose reports the search time and memory per partition (per key)', async () => {
    const f = `${fixtures}kv-appends-valid.jsonl`;
    const r = await run('linearizable', '--model', 'kv', '--format', 'json', '--verbose', f);
    expect(r.code).toBe(0);
    const stats = r.out.split('\n').filter((l) => l.startsWith('  '));
    expect(stats[0]).toMatch(
      /^ {2}search: \d+ operations, (\d+) of \1 partitions decided, \d+ ms, memo [\d.]+ MB, rss [\d.]+ MB$/,
    );
    const perKey = stats.slice(1);
    expect(perKey.length).toBeGreaterThan(0);
    for (const line of perKey) {
      expect(line).toMatch(
        /^ {4}key ".*": linearizable, \d+ ops, \d+ steps, [\d.]+ ms, memo \d+ entries [\d.]+ MB$/,
      );
    }
  });

  it.each([
    [['linearizable', '--format', 'json', 'f'], '--model must be'],
    [['linearizable', '--model', 'kv', 'f'], '--format must be'],
    [['linearizable', '--model', 'kv', '--format', 'json'], 'at least one FILE'],
    [
      ['serializable', '--model', 'kv', '--format', 'json', 'f'],
      'expected the check "linearizable" or "transactions"',
    ],
    [
      ['linearizable', '--model', 'kv', '--format', 'json', 'f', '--html'],
      "Option '--html <value>' argument missing",
    ],
    [['linearizable', '--model', 'kv', '--format', 'json', '--bogus', 'f'], "Unknown option '--bogus'"],
    [['linearizable', '--model', 'kv', '--format', 'json', '--timeout-ms', '0', 'f'], '--timeout-ms must be'],
    [
      ['linearizable', '--model', 'kv', '--format', 'json', '--initial-value', '{', 'f'],
      '--initial-value must be JSON',
    ],
  ])('exit 2 on bad arguments %j', async (argv, message) => {
    const r = await run(...argv);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
    expect(r.err).toContain('usage: ddia check linearizable');
  });

  it('--initial-value changes the kv starting value', async () => {
    const f = scratchFile(
      'null-start.jsonl',
      '{"process":0,"type":"invoke","f":"get","key":"k","value":null,"timeMs":0}\n{"process":0,"type":"ok","f":"get","key":"k","value":null,"timeMs":1}\n',
    );
    expect((await run('linearizable', '--model', 'kv', '--format', 'json', f)).code).toBe(1);
    expect(
      (await run('linearizable', '--model', 'kv', '--format', 'json', '--initial-value', 'null', f)).code,
    ).toBe(0);
  });

  it('exit 3 when a search runs out of time', async () => {
    // Writers racing unknown outcomes, then a read of a value nobody wrote: exhausting the
    // search takes far longer than 1 ms. (An unknown cas that could set any value keeps the
    // search from seeing at once that the last read is impossible.)
    const events: object[] = [{ process: 300, type: 'invoke', f: 'cas', value: [99, 3], timeMs: 0 }];
    for (let p = 0; p < 16; p++) events.push({ process: p, type: 'invoke', f: 'write', value: p, timeMs: p });
    for (let p = 0; p < 16; p++)
      events.push({ process: 100 + p, type: 'invoke', f: 'read', value: null, timeMs: 20 + p });
    for (let p = 0; p < 16; p++)
      events.push({ process: 100 + p, type: 'ok', f: 'read', value: (p * 5) % 16, timeMs: 40 + p });
    events.push(
      { process: 200, type: 'invoke', f: 'read', value: null, timeMs: 60 },
      { process: 200, type: 'ok', f: 'read', value: 99, timeMs: 61 },
    );
    const f = scratchFile('hard.json', JSON.stringify(events));
    const r = await run(
      'linearizable',
      '--model',
      'cas-register',
      '--format',
      'json',
      '--timeout-ms',
      '1',
      f,
    );
    expect(r.out).toBe(`${f}: unknown\n`);
    expect(r.code).toBe(CHECK_EXIT.unknown);
  });

  it('--help prints usage and exits 0', async () => {
    const r = await run('--help');
    expect(r.code).toBe(0);
    expect(r.out).toContain('usage: ddia check linearizable');
  });
});

describe('ddia check transactions: bad arguments', () => {
  it.each([
    [['transactions'], 'expected at least one FILE'],
    [['transactions', '--bogus', 'f.edn'], "Unknown option '--bogus'"],
    [
      ['transactions', '--workload', 'graph', 'f.edn'],
      '--workload must be list-append or rw-register, got graph',
    ],
    [['check', 'transactions', '--workload'], "Option '--workload <value>' argument missing"],
  ])('exit 2 on %j, naming the problem, with the usage', async (argv, message) => {
    const r = await run(...argv);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toContain(`ddia check transactions: ${message}`);
    expect(r.err).toContain('usage: ddia check transactions');
  });
});
