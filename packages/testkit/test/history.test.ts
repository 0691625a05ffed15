// The history recorder and the three history parsers, including their errors.

import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  casRegisterModel,
  checkLinearizable,
  HistoryParseError,
  HistoryRecorder,
  HistoryRecorderError,
  parseJepsenEdn,
  parseJepsenLog,
  parseJsonHistory,
  readEdn,
  toOperations,
} from '../src/index.js';

function parseError(fn: () => unknown): HistoryParseError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(HistoryParseError);
    return error as HistoryParseError;
  }
  throw new Error('expected a HistoryParseError');
}

describe('HistoryRecorder', () => {
  it('records invoke/complete pairs with monotonic times, in real-time order', () => {
    const r = new HistoryRecorder();
    const a = r.invoke(0, 'write', 1);
    const b = r.invoke(1, 'read', null);
    b.ok(1);
    a.ok();
    const events = r.events();
    expect(events.map((e) => `${e.process}:${e.type}:${e.f}:${JSON.stringify(e.value)}`)).toEqual([
      '0:invoke:write:1',
      '1:invoke:read:null',
      '1:ok:read:1',
      '0:ok:write:1',
    ]);
    for (let i = 1; i < events.length; i++)
      expect(events[i].timeMs).toBeGreaterThanOrEqual(events[i - 1].timeMs);
    expect(checkLinearizable(events, casRegisterModel).verdict).toBe('linearizable');
  });

  it('a timeout is recorded as info and stays open-ended', () => {
    const r = new HistoryRecorder();
    r.invoke(0, 'write', 1, 'k').info('timeout');
    const [op] = toOperations(r.events());
    expect(op.status).toBe('info');
    expect(op.completeIndex).toBe(Number.POSITIVE_INFINITY);
    expect(op.key).toBe('k');
  });

  it('refuses a second completion and a second op in flight on one process', () => {
    const r = new HistoryRecorder();
    const h = r.invoke(0, 'write', 1);
    expect(() => r.invoke(0, 'read', null)).toThrow(HistoryRecorderError);
    h.ok();
    expect(() => h.fail()).toThrow(HistoryRecorderError);
    expect(() => r.invoke(0, 'read', null)).not.toThrow();
  });

  it('writes a file that parseJsonHistory reads back to the same history', async () => {
    const r = new HistoryRecorder();
    r.invoke(0, 'cas', [1, 2], 'x').fail();
    r.invoke(1, 'put', { nested: ['v'] }, 'y').ok();
    r.invoke(2, 'get', null, 'y');
    const path = join(mkdtempSync(join(tmpdir(), 'ddia-history-')), 'h.json');
    await r.writeFile(path);
    const text = readFileSync(path, 'utf8');
    expect(text.split('\n')[1]).toContain('"type":"invoke"'); // one event per line
    expect(parseJsonHistory(text)).toEqual(r.toJSON());
    expect(JSON.parse(JSON.stringify(r))).toEqual(r.events());
  });
});

describe('parseJepsenLog', () => {
  it('reads the etcd log forms and skips other lines', () => {
    const text = [
      '2017-01-01 INFO  jepsen.core - starting',
      'INFO  jepsen.util - 0\t:invoke\t:cas\t[3 0]',
      'INFO  jepsen.util - :nemesis\t:info\t:start\tnil',
      'INFO  jepsen.util - 1\t:invoke\t:read\tnil',
      'INFO  jepsen.util - 1\t:fail\t:read\t:timed-out',
      'INFO  jepsen.util - 0\t:info\t:cas\t:timed-out',
    ].join('\n');
    const events = parseJepsenLog(text);
    expect(events).toEqual([
      { process: 0, type: 'invoke', f: 'cas', value: [3, 0], timeMs: 0 },
      { process: 1, type: 'invoke', f: 'read', value: null, timeMs: 1 },
      { process: 1, type: 'fail', f: 'read', value: ':timed-out', timeMs: 2 },
      { process: 0, type: 'info', f: 'cas', value: ':timed-out', timeMs: 3 },
    ]);
  });

  it('names the line and what was expected', () => {
    const e1 = parseError(() => parseJepsenLog('x\nINFO  jepsen.util - 3\t:bogus\t:read\tnil\n'));
    expect(e1.line).toBe(2);
    expect(e1.column).toBe(23);
    expect(e1.expected).toContain(':invoke, :ok, :fail or :info');
    expect(e1.message).toBe(
      'line 2, column 23: expected the type :invoke, :ok, :fail or :info after the process number, found ":bogus"',
    );
    const e2 = parseError(() =>
      parseJepsenLog(
        'INFO  jepsen.util - 3\t:invoke\t:read\tnil\nINFO  jepsen.util - 3\t:invoke\t:read\tnil\n',
      ),
    );
    expect(e2.line).toBe(2);
    expect(e2.message).toContain("a completion of process 3's open read");
    expect(parseError(() => parseJepsenLog('nothing here\n')).expected).toContain('at least one');
  });
});

describe('parseJepsenEdn', () => {
  it('reads one map per line, keywords, keys and :time in nanoseconds', () => {
    const text =
      '{:process 0, :type :invoke, :f :append, :key "4", :value "x 0 1 y", :time 2000000}\n' +
      '{:process :nemesis, :type :info, :f :start, :value nil}\n' +
      '{:process 0, :type :ok, :f :append, :key "4", :value "x 0 1 y", :time 5000000}\n';
    expect(parseJepsenEdn(text)).toEqual([
      { process: 0, type: 'invoke', f: 'append', key: '4', value: 'x 0 1 y', timeMs: 2 },
      { process: 0, type: 'ok', f: 'append', key: '4', value: 'x 0 1 y', timeMs: 5 },
    ]);
  });

  it('reads a history written as one vector', () => {
    const events = parseJepsenEdn(
      '[{:process 1 :type :invoke :f :read :value nil}\n {:process 1 :type :ok :f :read :value 3}]',
    );
    expect(events.map((e) => e.value)).toEqual([null, 3]);
  });

  it('names the line and what was expected', () => {
    const e1 = parseError(() =>
      parseJepsenEdn(
        '{:process 0, :type :invoke, :f :get, :key "1", :value nil}\n{:process 0, :type :done, :f :get}\n',
      ),
    );
    expect(e1.line).toBe(2);
    expect(e1.expected).toContain(':type to be :invoke, :ok, :fail or :info');
    const e2 = parseError(() => parseJepsenEdn('{:process 0, :type :invoke\n'));
    expect(e2.expected).toContain("'}'");
    const e3 = parseError(() => parseJepsenEdn('\n\n{:process "zero", :type :invoke, :f :get}'));
    expect(e3.line).toBe(3);
  });

  it('EDN reader: strings with escapes, sets, discard, tags, comments', () => {
    expect(readEdn('{:a "q\\"\\n" :b #{1 2} :c #_ 5 7 :d #inst "2020" ; note\n}')).toEqual({
      a: 'q"\n',
      b: [1, 2],
      c: 7,
      d: '2020',
    });
    expect(() => readEdn('[1 2')).toThrow(HistoryParseError);
    expect(() => readEdn('12abc')).toThrow(/a number/);
  });
});

describe('parseJsonHistory', () => {
  const invoke = '{"process":0,"type":"invoke","f":"read","value":null,"timeMs":1}';
  const ok = '{"process":0,"type":"ok","f":"read","value":5,"timeMs":2}';

  it('accepts an array and JSON lines', () => {
    expect(parseJsonHistory(`[\n${invoke},\n${ok}\n]`)).toHaveLength(2);
    expect(parseJsonHistory(`${invoke}\n\n${ok}\n`)).toHaveLength(2);
  });

  it('names the line of a bad event in an array or in JSON lines', () => {
    const bad = '{"process":0,"type":"done","f":"read","value":5,"timeMs":2}';
    const e1 = parseError(() => parseJsonHistory(`[\n${invoke},\n\n${bad}\n]`));
    expect(e1.line).toBe(4);
    expect(e1.expected).toContain('"type" to be one of invoke, ok, fail, info');
    const e2 = parseError(() => parseJsonHistory(`${invoke}\n{"process":0,`));
    expect(e2.line).toBe(2);
    expect(e2.expected).toContain('one JSON event object per line');
    const e3 = parseError(() => parseJsonHistory(`[\n${invoke},\n${ok},\n]`));
    expect(e3.line).toBe(4);
    const e4 = parseError(() => parseJsonHistory(`${ok}\n`));
    expect(e4.expected).toContain('an invoke by process 0');
    expect(parseError(() => parseJsonHistory('  ')).found).toBe('an empty file');
  });
});
