// The history formats as published histories write them: Jepsen text logs with any whitespace
// between fields (Porcupine's etcd logs re-spaced), timestamped logger prefixes, :info without a
// value; Jepsen/Elle EDN with every value type; errors that name the line and the column.
// Porcupine's own test data is read from its mirrored repository when present (never copied here).

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  casRegisterModel,
  checkLinearizable,
  EDN_DEPTH_MAX,
  HistoryParseError,
  parseJepsenEdn,
  parseJepsenLog,
  parseJsonHistory,
  readEdn,
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

const PORCUPINE = '/work/.mirror/anishathalye+porcupine/repo';
const porcupinePresent = existsSync(PORCUPINE);
if (!porcupinePresent) {
  console.warn(`Porcupine's repository is not mirrored at ${PORCUPINE}: skipping the tests on its etcd logs`);
}

function porcupineFile(path: string): string {
  return execFileSync('git', ['-C', PORCUPINE, 'show', `HEAD:${path}`], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
}

/** Porcupine's own expectations: `checkJepsen(t, 12, false)` lines in porcupine_test.go. */
function porcupineEtcdVerdicts(): [number, boolean][] {
  const source = porcupineFile('porcupine_test.go');
  return [...source.matchAll(/checkJepsen\(t, (\d+), (true|false)\)/g)].map((m) => [
    Number(m[1]),
    m[2] === 'true',
  ]);
}

/** Deterministic re-spacing: each tab becomes one space, 2-4 spaces, a tab and spaces, or a space and a tab. */
function respace(text: string, seed: number): string {
  let state = seed >>> 0;
  return text.replace(/\t/g, () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    const choice = (state >>> 16) % 4;
    if (choice === 0) return ' ';
    if (choice === 1) return ' '.repeat(2 + ((state >>> 8) % 3));
    if (choice === 2) return '\t  ';
    return ' \t';
  });
}

describe('Jepsen text logs with any whitespace', () => {
  it('reads tabs, runs of spaces and mixed separators alike', () => {
    const tabs = 'INFO  jepsen.util - 3\t:invoke\t:cas\t[1 2]\nINFO  jepsen.util - 3\t:ok\t:cas\t[1 2]\n';
    const spaces =
      'INFO jepsen.util - 3   :invoke :cas    [1   2]\nINFO  jepsen.util -  3 \t :ok\t  :cas [1 2]  \n';
    expect(parseJepsenLog(spaces)).toEqual(parseJepsenLog(tabs));
    expect(parseJepsenLog(tabs)[0]).toEqual({
      process: 3,
      type: 'invoke',
      f: 'cas',
      value: [1, 2],
      timeMs: 0,
    });
  });

  it('reads timestamped logger prefixes, skips the nemesis, and an :info without a value is nil', () => {
    const text = [
      '2017-03-30 12:34:56,789{GMT}\tINFO\t[jepsen worker 3] jepsen.util: 3\t:invoke\t:write\t4',
      '2017-03-30 12:34:56,790{GMT}\tINFO\t[jepsen nemesis] jepsen.util: :nemesis\t:info\t:start\tnil',
      '2017-03-30 12:34:56,791{GMT}\tINFO\t[jepsen worker 3] jepsen.util: 3\t:info\t:write',
      'INFO  jepsen.core - Run complete, writing',
    ].join('\r\n');
    expect(parseJepsenLog(text)).toEqual([
      { process: 3, type: 'invoke', f: 'write', value: 4, timeMs: 0 },
      { process: 3, type: 'info', f: 'write', value: null, timeMs: 1 },
    ]);
  });

  it('names the line and column of a bad field, a truncated value and an unknown type', () => {
    const unknownType = parseError(() => parseJepsenLog('INFO  jepsen.util - 3  :invok :read nil'));
    expect([unknownType.line, unknownType.column, unknownType.found]).toEqual([1, 24, '":invok"']);
    const truncated = parseError(() =>
      parseJepsenLog('INFO  jepsen.util - 1 :invoke :read nil\nINFO  jepsen.util - 3  :invoke :cas [1 2'),
    );
    expect([truncated.line, truncated.column]).toEqual([2, 41]);
    expect(truncated.expected).toContain("']' to close the collection opened at line 2, column 37");
    const noF = parseError(() => parseJepsenLog('INFO  jepsen.util - 3 :invoke'));
    expect([noF.column, noF.found]).toEqual([30, 'end of line']);
    const badNumber = parseError(() => parseJepsenLog('INFO  jepsen.util - 3 :invoke :write 12x'));
    expect(badNumber.message).toBe('line 1, column 38: expected a number, found 12x');
  });

  describe.skipIf(!porcupinePresent)("Porcupine's etcd logs, re-spaced", () => {
    const verdicts = porcupinePresent ? porcupineEtcdVerdicts() : [];

    it('lists every etcd log with its verdict', () => {
      expect(verdicts.length).toBeGreaterThanOrEqual(10);
      expect(new Set(verdicts.map(([, ok]) => ok))).toEqual(new Set([true, false]));
    });

    it.each(verdicts)('etcd_%s.log with spaces: same events, linearizable = %s', (n, linearizable) => {
      const text = porcupineFile(`test_data/jepsen/etcd_${String(n).padStart(3, '0')}.log`);
      const tabbed = parseJepsenLog(text);
      const spaced = respace(text, n + 1);
      expect(spaced).not.toMatch(/\S\t\S/); // no field is separated by a lone tab any more
      expect(parseJepsenLog(spaced)).toEqual(tabbed);
      const result = checkLinearizable(parseJepsenLog(spaced), casRegisterModel, { timeoutMs: 10_000 });
      expect(result.verdict).toBe(linearizable ? 'linearizable' : 'not-linearizable');
    });
  });
});

describe('EDN as Jepsen and Elle write it', () => {
  it('reads every value type', () => {
    expect(
      readEdn(
        '{:nil nil :t true :f false :int -42 :big 12345678901234N :float 1.5e3 :dec 2.50M :ratio 1/4 ' +
          ':inf ##Inf :ninf ##-Inf :s "a\\tb\\u00e9" :chars [\\a \\newline \\space \\u0041 \\(] ' +
          ':kw :ns/name :sym foo.bar/baz :vec [1 [2 [3]]] :list (1 2) :set #{:x :y} ' +
          ':map {"k" 1, 2 3, :nested {:deep [nil]}} :inst #inst "2020-01-01T00:00:00Z" ' +
          ':uuid #uuid "f81d4fae-7dec-11d0-a765-00a0c91e6bf6" :rec #jepsen.history.Op{:index 3} ' +
          ':gone #_ 99 7 :end [1 #_ 2]} ; trailing comment',
      ),
    ).toEqual({
      nil: null,
      t: true,
      f: false,
      int: -42,
      big: 12345678901234,
      float: 1500,
      dec: 2.5,
      ratio: 0.25,
      inf: Number.POSITIVE_INFINITY,
      ninf: Number.NEGATIVE_INFINITY,
      s: 'a\tbé',
      chars: ['a', '\n', ' ', 'A', '('],
      kw: ':ns/name',
      sym: 'foo.bar/baz',
      vec: [1, [2, [3]]],
      list: [1, 2],
      set: [':x', ':y'],
      map: { k: 1, '2': 3, nested: { deep: [null] } },
      inst: '2020-01-01T00:00:00Z',
      uuid: 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6',
      rec: { index: 3 },
      gone: 7,
      end: [1],
    });
  });

  it('reads Jepsen maps with :index and :time, :info with and without :value, per-element lines', () => {
    const text = [
      '[{:type :invoke, :f :txn, :value [[:append 1 2] [:r 1 nil]], :time 1000000, :process 0, :index 0}',
      ' {:type :invoke, :f :read, :time 2000000, :process 1, :index 1}',
      ' {:type :info, :f :read, :time 3000000, :process 1, :index 2, :error :timeout}',
      ' {:type :ok, :f :txn, :value [[:append 1 2] [:r 1 [2]]], :time 4000000, :process 0, :index 3}',
      ' {:type :info, :f :kill, :value nil, :process :nemesis, :index 4}]',
    ].join('\n');
    const events = parseJepsenEdn(text);
    expect(events.map((e) => [e.process, e.type, e.f, e.timeMs])).toEqual([
      [0, 'invoke', 'txn', 1],
      [1, 'invoke', 'read', 2],
      [1, 'info', 'read', 3],
      [0, 'ok', 'txn', 4],
    ]);
    expect(events[3].value).toEqual([
      [':append', 1, 2],
      [':r', 1, [2]],
    ]);
    expect(events[1].value).toBeNull();
    const bad = parseError(() =>
      parseJepsenEdn(text.replace(':type :info, :f :read', ':type :done, :f :read')),
    );
    expect([bad.line, bad.column]).toEqual([3, 2]);
  });

  it('names line and column for invalid EDN', () => {
    const cases: [string, number, number, string][] = [
      ['{:a 1\n :b [1 2}', 2, 9, "']' to close the collection opened at line 2, column 5"],
      ['"abc', 1, 5, "a closing '\"'"],
      ['{:a 1 :a 2}', 1, 7, 'distinct map keys, a repeats'],
      ['{:a}', 1, 4, 'a value for map key ":a"'],
      ['[1 2] 3', 1, 7, 'end of the value'],
      ['"\\q"', 1, 2, 'a string escape'],
      ['\\bogus', 1, 1, 'a character literal'],
      ['##Foo', 1, 1, '##Inf, ##-Inf or ##NaN'],
      ['1/0', 1, 1, 'a number'],
      [':', 1, 1, 'a keyword name'],
      [']', 1, 1, 'an EDN value'],
    ];
    for (const [text, line, column, expected] of cases) {
      const error = parseError(() => readEdn(text));
      expect([text, error.line, error.column]).toEqual([text, line, column]);
      expect(error.expected).toContain(expected);
    }
  });

  it('refuses nesting deeper than EDN_DEPTH_MAX instead of overflowing the stack', () => {
    const deep = `${'['.repeat(EDN_DEPTH_MAX + 1)}${']'.repeat(EDN_DEPTH_MAX + 1)}`;
    expect(parseError(() => readEdn(deep)).expected).toContain('nested collections');
    const ok = `${'['.repeat(EDN_DEPTH_MAX)}${']'.repeat(EDN_DEPTH_MAX)}`;
    expect(() => readEdn(ok)).not.toThrow();
  });

  it('a broken JSON history is reported at its line and column', () => {
    const first = '[{"process":0,"type":"invoke","f":"read","timeMs":0},';
    const truncated = parseError(() =>
      parseJsonHistory(`${first}\n{"process":0,"type":"ok","f":"read","value":1,"timeMs":`),
    );
    expect([truncated.line, truncated.column]).toEqual([2, 56]);
    const missingComma = parseError(() =>
      parseJsonHistory(`${first}\n{"process":0,"type":"ok" "f":"read","value":1,"timeMs":1}]`),
    );
    expect([missingComma.line, missingComma.column]).toEqual([2, 26]);
  });
});
