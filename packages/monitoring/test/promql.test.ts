import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PromqlEvalError, PromqlParseError } from '../src/core/errors.js';
import { labelsFromRecord, labelsToRecord } from '../src/core/labels.js';
import { PromqlEngine } from '../src/core/promql/engine.js';
import { parsePromql } from '../src/core/promql/parser.js';
import { MemoryTsdb } from '../src/core/tsdb.js';

const S = 1000;
const M = 60 * S;

/** 10 minutes of 15-second scrapes of a small, known world. */
function world(): MemoryTsdb {
  const db = new MemoryTsdb();
  const add = (labels: Record<string, string>, fn: (i: number) => number | 'stale' | null) => {
    for (let i = 0; i <= 40; i++) {
      const v = fn(i);
      if (v === 'stale') db.append(labelsFromRecord(labels), i * 15 * S, Number.NaN, true);
      else if (v !== null) db.append(labelsFromRecord(labels), i * 15 * S, v);
    }
  };
  // Counters: +10 per scrape; one resets at i = 20.
  add({ __name__: 'req_total', job: 'api', instance: 'a', code: '200' }, (i) => 100 + 10 * i);
  add({ __name__: 'req_total', job: 'api', instance: 'b', code: '200' }, (i) =>
    i < 20 ? 10 * i : 10 * (i - 20),
  );
  add({ __name__: 'req_total', job: 'api', instance: 'a', code: '500' }, (i) => i);
  add({ __name__: 'req_total', job: 'db', instance: 'c', code: '200' }, (i) => 2 * i);
  add({ __name__: 'temp', instance: 'a' }, (i) => 20 + (i % 4));
  add({ __name__: 'temp', instance: 'b' }, (_i) => -5.5);
  add({ __name__: 'info', instance: 'a', version: '1.2' }, () => 1);
  add({ __name__: 'info', instance: 'b', version: '1.3' }, () => 1);
  // A histogram: 10 observations per scrape, half ≤ 0.1 s, all ≤ 1 s.
  for (const [le, frac] of [
    ['0.1', 0.5],
    ['0.5', 0.9],
    ['1', 1],
    ['+Inf', 1],
  ] as const) {
    add({ __name__: 'lat_bucket', job: 'api', le }, (i) => 10 * i * frac);
  }
  // A series that goes stale at i = 30.
  add({ __name__: 'gone', job: 'x' }, (i) => (i < 30 ? 1 : i === 30 ? 'stale' : null));
  return db;
}

const engine = new PromqlEngine(world());
const at = 10 * M;

function instant(q: string, t = at): Record<string, number> {
  const r = engine.instant(parsePromql(q), t);
  if (r.resultType === 'scalar') return { scalar: r.value };
  if (r.resultType !== 'vector') throw new Error(r.resultType);
  const out: Record<string, number> = {};
  for (const s of r.samples) {
    out[JSON.stringify(labelsToRecord(s.labels))] = s.value;
  }
  return out;
}

const key = (r: Record<string, string>) => JSON.stringify(labelsToRecord(labelsFromRecord(r)));

describe('PromQL parser', () => {
  it('parses precedence, unary minus and modifiers', () => {
    expect(instant('1 + 2 * 3 ^ 2 ^ 0.5 - -1')).toEqual({ scalar: 1 + 2 * 3 ** (2 ** 0.5) + 1 });
    expect(instant('-2 ^ 2')).toEqual({ scalar: -4 });
    expect(instant('2 > bool 1')).toEqual({ scalar: 1 });
    const e = parsePromql('sum by (job) (rate(req_total{code=~"2.."}[5m] offset 1m))');
    expect(e.kind).toBe('aggregate');
  });

  const bad: [string, number, RegExp][] = [
    ['rate(req_total)', 5, /expected type range vector/],
    ['sum(req_total', 13, /unexpected end of input/],
    ['req_total{job="a"', 17, /unexpected end of input/],
    ['foo +', 5, /unexpected end of input/],
    ['{job=~".*"}', 0, /at least one non-empty matcher/],
    ['nosuch(up)', 0, /unknown function/],
    ['up[5x]', 3, /bad number or duration/],
    ['1 > 2', 2, /BOOL/],
    ['up{job="a" 1', 11, /expected ","|in label matching/],
    ['(up', 3, /unexpected end of input/],
    ['up{job=~"("}', 8, /invalid regular expression/],
    ['"a" + 1', 4, /left side is string/],
    ['up ) ', 3, /unexpected character "\)"/],
  ];
  for (const [query, position, message] of bad) {
    it(`rejects ${JSON.stringify(query)} at position ${position}`, () => {
      let error: unknown;
      try {
        parsePromql(query);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(PromqlParseError);
      expect((error as PromqlParseError).message).toMatch(message);
      expect((error as PromqlParseError).position).toBe(position);
    });
  }
});

describe('PromQL evaluation', () => {
  it('selects with the 5-minute lookback and honours staleness markers', () => {
    expect(instant('gone')).toEqual({});
    expect(instant('gone', 7 * M)).toEqual({ [key({ __name__: 'gone', job: 'x' })]: 1 });
    // Past the last sample by more than 5 minutes nothing is returned.
    expect(instant('temp', 16 * M)).toEqual({});
    expect(Object.keys(instant('temp', 14 * M))).toHaveLength(2);
  });

  it('offset shifts the evaluation time', () => {
    expect(instant('req_total{instance="a",code="200"} offset 5m')).toEqual({
      [key({ __name__: 'req_total', job: 'api', instance: 'a', code: '200' })]: 100 + 10 * 20,
    });
  });

  it('rate and increase extrapolate as Prometheus does', () => {
    // 21 samples over [5m, 10m] exactly on the range edges: no extrapolation, 200 over 300 s.
    const rate = instant('rate(req_total{instance="a",code="200"}[5m])');
    expect(Object.values(rate)[0]).toBeCloseTo(200 / 300, 12);
    expect(Object.keys(rate)[0]).toBe(key({ job: 'api', instance: 'a', code: '200' }));
    // A window that starts between samples: 4 samples in [t-1m, t] at t = 9m50s.
    const t = 9 * M + 50 * S;
    const inc = Object.values(instant('increase(req_total{instance="a",code="200"}[1m])', t))[0]!;
    // Samples at 9m, 9m15, 9m30, 9m45: 30 over 45 s, extrapolated by 5 s at the end (< 1.1 x 15 s)
    // and 10 s at the start: 30 * (45 + 10 + 5) / 45 = 40.
    expect(inc).toBeCloseTo(40, 10);
  });

  it('corrects counter resets in rate and counts them with resets()', () => {
    const inc = Object.values(instant('increase(req_total{instance="b"}[5m])'))[0]!;
    // 10 per scrape for 20 intervals, reset included: 200.
    expect(inc).toBeCloseTo(200, 10);
    expect(Object.values(instant('resets(req_total{instance="b"}[10m])'))[0]).toBe(1);
  });

  it('irate, delta, and the *_over_time family', () => {
    expect(Object.values(instant('irate(req_total{instance="a",code="200"}[1m])'))[0]).toBeCloseTo(
      10 / 15,
      12,
    );
    expect(Object.values(instant('delta(temp{instance="b"}[5m])'))[0]).toBe(0);
    const temps = instant('max_over_time(temp[1m])');
    expect(temps[key({ instance: 'a' })]).toBe(23);
    expect(instant('count_over_time(temp{instance="a"}[1m])')[key({ instance: 'a' })]).toBe(5);
    expect(instant('avg_over_time(temp{instance="a"}[1m])')[key({ instance: 'a' })]).toBeCloseTo(
      (20 + 21 + 22 + 23 + 20) / 5,
    );
    expect(instant('quantile_over_time(0.5, temp{instance="a"}[1m])')[key({ instance: 'a' })]).toBe(21);
    // last_over_time keeps the metric name.
    expect(Object.keys(instant('last_over_time(temp{instance="b"}[1m])'))[0]).toBe(
      key({ __name__: 'temp', instance: 'b' }),
    );
  });

  it('aggregates by and without, topk, quantile, count', () => {
    expect(instant('sum by (job) (req_total)')).toEqual({
      [key({ job: 'api' })]: 500 + 200 + 40,
      [key({ job: 'db' })]: 80,
    });
    expect(instant('count without (instance, code) (req_total)')).toEqual({
      [key({ job: 'api' })]: 3,
      [key({ job: 'db' })]: 1,
    });
    expect(instant('max(temp)')).toEqual({ [key({})]: 20 });
    expect(instant('min(temp)')).toEqual({ [key({})]: -5.5 });
    expect(instant('avg(temp)')).toEqual({ [key({})]: (20 - 5.5) / 2 });
    const top = instant('topk(2, req_total)');
    expect(Object.values(top).sort((a, b) => b - a)).toEqual([500, 200]);
    expect(Object.keys(top)[0]).toContain('req_total');
    expect(instant('quantile(0.5, req_total)')).toEqual({ [key({})]: (80 + 200) / 2 });
  });

  it('topk and bottomk equal a stable sort then a slice: NaN last, ties in series order', () => {
    const value = fc.oneof(fc.constantFrom(Number.NaN, 1, 2), fc.double({ noNaN: true }));
    fc.assert(
      fc.property(fc.array(value, { maxLength: 12 }), fc.integer({ min: 1, max: 14 }), (values, k) => {
        const db = new MemoryTsdb();
        for (const [i, v] of values.entries()) {
          db.append(labelsFromRecord({ __name__: 'g', i: String(i).padStart(2, '0') }), 0, v);
        }
        const engine = new PromqlEngine(db);
        for (const [op, sign] of [
          ['topk', -1],
          ['bottomk', 1],
        ] as const) {
          const r = engine.instant(parsePromql(`${op}(${k}, g)`), 0);
          if (r.resultType !== 'vector') throw new Error(r.resultType);
          const got = r.samples.map((x) => labelsToRecord(x.labels).i);
          // The store answers series in label order, which is i's order here.
          const want = values
            .map((v, i) => ({ v, i: String(i).padStart(2, '0') }))
            .sort((a, b) => (Number.isNaN(a.v) ? 1 : Number.isNaN(b.v) ? -1 : sign * (a.v - b.v)))
            .slice(0, k)
            .map((x) => x.i);
          expect(got).toEqual(want);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('histogram_quantile interpolates inside the bucket', () => {
    const q = instant('histogram_quantile(0.5, rate(lat_bucket[5m]))');
    expect(Object.values(q)[0]).toBeCloseTo(0.1, 10);
    const q9 = Object.values(instant('histogram_quantile(0.75, rate(lat_bucket[5m]))'))[0]!;
    // rank 0.75 of the rate falls in (0.1, 0.5]: 0.1 + 0.4 * (0.75 - 0.5) / (0.9 - 0.5).
    expect(q9).toBeCloseTo(0.1 + 0.4 * (0.25 / 0.4), 10);
  });

  it('binary operations with on, ignoring and group_left', () => {
    const ratio = instant(
      'sum by (instance) (req_total{code="500"}) / on (instance) sum by (instance) (req_total)',
    );
    expect(ratio).toEqual({ [key({ instance: 'a' })]: 40 / 540 });
    const ign = instant('req_total{code="500"} / ignoring (code) req_total{code="200"}');
    expect(ign).toEqual({ [key({ job: 'api', instance: 'a' })]: 40 / 500 });
    const joined = instant('temp * on (instance) group_left (version) info');
    expect(joined).toEqual({
      [key({ instance: 'a', version: '1.2' })]: 20,
      [key({ instance: 'b', version: '1.3' })]: -5.5,
    });
    expect(() => instant('req_total / on (job) req_total')).toThrow(PromqlEvalError);
  });

  it('comparisons filter and keep the metric name; bool returns 0/1', () => {
    expect(Object.keys(instant('temp > 0'))).toEqual([key({ __name__: 'temp', instance: 'a' })]);
    expect(instant('temp > bool 0')).toEqual({ [key({ instance: 'a' })]: 1, [key({ instance: 'b' })]: 0 });
    expect(instant('0 < temp')).toEqual({ [key({ __name__: 'temp', instance: 'a' })]: 20 });
    expect(Object.keys(instant('temp and on (instance) info{version="1.3"}'))).toEqual([
      key({ __name__: 'temp', instance: 'b' }),
    ]);
    expect(Object.keys(instant('temp unless on (instance) info{version="1.3"}'))).toEqual([
      key({ __name__: 'temp', instance: 'a' }),
    ]);
  });

  it('abs, ceil, round, clamp', () => {
    expect(instant('abs(temp{instance="b"})')).toEqual({ [key({ instance: 'b' })]: 5.5 });
    expect(instant('ceil(temp{instance="b"})')).toEqual({ [key({ instance: 'b' })]: -5 });
    expect(instant('round(temp{instance="b"})')).toEqual({ [key({ instance: 'b' })]: -5 });
    expect(instant('round(temp{instance="b"}, 5)')).toEqual({ [key({ instance: 'b' })]: -5 });
    expect(instant('clamp(temp, 0, 10)')).toEqual({
      [key({ instance: 'a' })]: 10,
      [key({ instance: 'b' })]: 0,
    });
    expect(instant('clamp(temp, 10, 0)')).toEqual({});
  });

  it('range queries evaluate at every step', () => {
    const series = engine.range(parsePromql('sum(rate(req_total[1m]))'), 5 * M, 10 * M, M);
    expect(series).toHaveLength(1);
    expect(series[0]!.timestamps).toEqual([5, 6, 7, 8, 9, 10].map((m) => m * M));
    expect(engine.range(parsePromql('1 + 1'), 0, 2 * M, M)[0]!.values).toEqual([2, 2, 2]);
    expect(() => engine.range(parsePromql('up'), 0, 1e12, 1)).toThrow(/maximum resolution/);
  });
});
