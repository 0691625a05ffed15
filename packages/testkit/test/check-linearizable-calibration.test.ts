// Hand-built calibration histories (test/fixtures/histories, EXPECTED.json says why each has
// its verdict) and small direct cases for the model semantics and the failure report.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  casRegisterModel,
  checkLinearizable,
  createKvModel,
  type HistoryEvent,
  HistoryRecorder,
  kvModel,
  MalformedHistoryError,
  parseJsonHistory,
  UnsupportedOperationError,
} from '../src/index.js';

const fixturesDir = fileURLToPath(new URL('./fixtures/histories/', import.meta.url));
const expected = JSON.parse(readFileSync(`${fixturesDir}EXPECTED.json`, 'utf8')) as Record<
  string,
  { model: 'cas-register' | 'kv'; verdict: string; why: string }
>;

describe('calibration histories', () => {
  it.each(Object.entries(expected))('%s', (file, { model, verdict }) => {
    const history = parseJsonHistory(readFileSync(`${fixturesDir}${file}`, 'utf8'));
    const result = checkLinearizable(history, model === 'kv' ? kvModel : casRegisterModel);
    expect(result.verdict).toBe(verdict);
  });

  it('covers both verdicts and both models', () => {
    const entries = Object.values(expected);
    for (const model of ['cas-register', 'kv']) {
      for (const verdict of ['linearizable', 'not-linearizable']) {
        expect(entries.some((e) => e.model === model && e.verdict === verdict)).toBe(true);
      }
    }
  });
});

describe('the failure report', () => {
  it('Figure 9-1 stale read: names the write as the prefix and the stale read as blocked', () => {
    const history = parseJsonHistory(readFileSync(`${fixturesDir}stale-read.json`, 'utf8'));
    const result = checkLinearizable(history, casRegisterModel);
    expect(result.verdict).toBe('not-linearizable');
    const failure = result.failure!;
    expect(failure.longestPrefix!.map((op) => op.f)).toEqual(['write']);
    expect(failure.stateAfterPrefix).toBe(1);
    expect(failure.blocked!.map((op) => [op.f, op.output])).toEqual([['read', null]]);
    expect(failure.mustPrecede!.f).toBe('read');
    expect(result.explanation!.join('\n')).toContain('process 1: read -> nil');
  });

  it('kv: reports the failing key and stops there', () => {
    const history = parseJsonHistory(readFileSync(`${fixturesDir}kv-stale-get.jsonl`, 'utf8'));
    const result = checkLinearizable(history, kvModel);
    expect(result.failure!.key).toBe('b');
    expect(result.partitions.find((p) => p.key === 'a')!.verdict).toBe('linearizable');
  });

  it('linearizable results carry a witness order that the model accepts', () => {
    const history = parseJsonHistory(readFileSync(`${fixturesDir}concurrent-valid.json`, 'utf8'));
    const result = checkLinearizable(history, casRegisterModel);
    const order = result.partitions[0].linearization!;
    expect(order.map((op) => `${op.f}:${JSON.stringify(op.output)}`)).toEqual([
      'read:null',
      'write:1',
      'read:1',
      'read:1',
    ]);
  });
});

describe('model semantics', () => {
  const rec = () =>
    new HistoryRecorder({
      nowMs: (() => {
        let t = 0;
        return () => t++;
      })(),
    });

  it('kv initial value is configurable: null for a store that answers "not found"', () => {
    const r = rec();
    r.invoke(0, 'get', null, 'k').ok(null);
    expect(checkLinearizable(r.events(), kvModel).verdict).toBe('not-linearizable');
    expect(checkLinearizable(r.events(), createKvModel({ initialValue: null })).verdict).toBe('linearizable');
  });

  it('kv append on a list value pushes elements', () => {
    const r = rec();
    r.invoke(0, 'append', 1, 'k').ok();
    r.invoke(0, 'append', 2, 'k').ok();
    r.invoke(0, 'get', null, 'k').ok([1, 2]);
    expect(checkLinearizable(r.events(), createKvModel({ initialValue: [] })).verdict).toBe('linearizable');
    r.invoke(0, 'get', null, 'k').ok([2, 1]);
    expect(checkLinearizable(r.events(), createKvModel({ initialValue: [] })).verdict).toBe(
      'not-linearizable',
    );
  });

  it('an unknown-outcome cas may have failed (no effect) or applied', () => {
    const r = rec();
    r.invoke(0, 'write', 1).ok();
    r.invoke(1, 'cas', [1, 2]).info();
    r.invoke(2, 'read', null).ok(1);
    r.invoke(2, 'read', null).ok(2);
    expect(checkLinearizable(r.events(), casRegisterModel).verdict).toBe('linearizable');
    r.invoke(2, 'read', null).ok(1);
    expect(checkLinearizable(r.events(), casRegisterModel).verdict).toBe('not-linearizable');
  });

  it('a cas reported ok whose comparison cannot have matched is a violation', () => {
    const r = rec();
    r.invoke(0, 'write', 1).ok();
    r.invoke(0, 'cas', [5, 6]).ok();
    expect(checkLinearizable(r.events(), casRegisterModel).verdict).toBe('not-linearizable');
  });

  it('rejects operations the model does not know, and malformed histories', () => {
    const r = rec();
    r.invoke(0, 'get', null, 'k').ok('');
    expect(() => checkLinearizable(r.events(), casRegisterModel)).toThrow(UnsupportedOperationError);
    const orphan: HistoryEvent[] = [{ process: 0, type: 'ok', f: 'read', value: 1, timeMs: 0 }];
    expect(() => checkLinearizable(orphan, casRegisterModel)).toThrow(MalformedHistoryError);
    const noKey = rec();
    noKey.invoke(0, 'put', 'x').ok();
    expect(() => checkLinearizable(noKey.events(), kvModel)).toThrow(/key/);
  });

  it('gives up with verdict unknown when the budget runs out', () => {
    // Many concurrent unknown writes and reads that pin no order: a big search space. (An
    // unknown cas that could set any value keeps the search from seeing at once that the last
    // read is impossible.)
    const events: HistoryEvent[] = [{ process: 300, type: 'invoke', f: 'cas', value: [999, 5], timeMs: 0 }];
    const writers = 18;
    for (let p = 0; p < writers; p++)
      events.push({ process: p, type: 'invoke', f: 'write', value: p, timeMs: p });
    for (let p = 0; p < writers; p++)
      events.push({ process: 100 + p, type: 'invoke', f: 'read', value: null, timeMs: 50 + p });
    for (let p = writers - 1; p >= 0; p--)
      events.push({ process: 100 + p, type: 'ok', f: 'read', value: (p * 7) % writers, timeMs: 100 + p });
    events.push({ process: 200, type: 'invoke', f: 'read', value: null, timeMs: 200 });
    events.push({ process: 200, type: 'ok', f: 'read', value: 999, timeMs: 201 });
    let fakeNow = 0;
    const result = checkLinearizable(events, casRegisterModel, { timeoutMs: 5, nowMs: () => (fakeNow += 1) });
    expect(result.verdict).toBe('unknown');
    expect(result.explanation![0]).toContain('gave up');
  });
});
