// Anomaly rules (core/anomaly.ts): an EWMA baseline with a z-score band per series, and a
// seasonal baseline that learns a daily pattern. Seeded noise, so every count here is exact.
import { SeededRandom } from '@ddia/common/core';
import { describe, expect, it } from 'vitest';
import { AnomalyDetector, type AnomalySpec, EwmaModel } from '../src/core/anomaly.js';
import { ConfigFileError } from '../src/core/errors.js';
import { labelsFromRecord, labelsToRecord } from '../src/core/labels.js';
import { AlertingRule, parseRuleFile } from '../src/core/rules.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;

function spec(over: Partial<AnomalySpec> = {}): AnomalySpec {
  return { alpha: 0.1, z: 4, direction: 'both', warmup: 10, seasonMs: 0, seasonBuckets: 24, ...over };
}

function gaussian(seed: number): () => number {
  const rng = new SeededRandom(seed);
  return () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
}

describe('EWMA model', () => {
  it('scores nothing during warmup, then flags a spike and not the noise around it', () => {
    const noise = gaussian(1);
    const m = new EwmaModel(spec());
    const zs: number[] = [];
    for (let i = 0; i < 500; i++) zs.push(m.observe(i * 1000, 50 + 2 * noise() + (i === 400 ? 30 : 0)).z);
    expect(zs.slice(0, 10).every(Number.isNaN)).toBe(true);
    const flagged = zs.flatMap((z, i) => (Math.abs(z) > 4 ? [i] : []));
    expect(flagged).toEqual([400]);
    expect(zs[400]).toBeGreaterThan(8);
  });

  it('a flat series scores any change as infinitely unusual, and no change as 0', () => {
    const m = new EwmaModel(spec({ warmup: 3 }));
    for (let i = 0; i < 5; i++) m.observe(i, 1);
    expect(m.observe(5, 1).z).toBe(0);
    expect(m.observe(6, 0).z).toBe(Number.NEGATIVE_INFINITY);
  });

  it('a lasting level shift becomes the new normal (the alert resolves by itself)', () => {
    const noise = gaussian(2);
    const m = new EwmaModel(spec());
    const flagged: number[] = [];
    for (let i = 0; i < 400; i++) {
      const { z } = m.observe(i * 1000, (i < 200 ? 10 : 20) + noise());
      if (Math.abs(z) > 4) flagged.push(i);
    }
    expect(flagged).toContain(200);
    // (One noise sample at 149 also crosses 4σ of the EWMA's own variance estimate: seed 2.)
    expect(flagged.filter((i) => i < 200).length).toBeLessThanOrEqual(1);
    expect(flagged.every((i) => i < 260)).toBe(true);
  });

  it('the seasonal baseline learns a nightly batch job; the plain EWMA pages for it every night', () => {
    // 8 days at 5-minute steps: latency ~100 ms, 200 ms from 02:00 to 03:00 every night (the
    // batch job), and a real incident on day 7 at 14:00 (+100 ms for 15 minutes).
    const run = (seasonMs: number) => {
      const noise = gaussian(7);
      const m = new EwmaModel(spec({ direction: 'up', seasonMs }));
      const nightly = new Array<number>(8).fill(0);
      const incident: number[] = [];
      for (let t = 0; t < 8 * DAY; t += 5 * 60_000) {
        const hour = Math.floor((t % DAY) / HOUR);
        const day = Math.floor(t / DAY);
        const inIncident = day === 7 && hour === 14 && t % HOUR < 15 * 60_000;
        const x = 100 + 5 * noise() + (hour === 2 ? 100 : 0) + (inIncident ? 100 : 0);
        const { z } = m.observe(t, x);
        if (inIncident) incident.push(z);
        else if (z > 4) nightly[day]!++;
      }
      return { nightly, incident };
    };
    const plain = run(0);
    const seasonal = run(DAY);
    expect(plain.nightly.every((n) => n >= 1)).toBe(true); // a page every night
    expect(seasonal.nightly.slice(1)).toEqual([0, 0, 0, 0, 0, 0, 0]); // only the first night
    expect(seasonal.incident[0]).toBeGreaterThan(10); // the incident is still caught at once
    expect(plain.incident[0]).toBeGreaterThan(10);
  });
});

describe('anomaly detector and rules', () => {
  it('keeps one model per series, respects the direction, writes score/baseline/band series', () => {
    const d = new AnomalyDetector(spec({ direction: 'up', warmup: 3 }), 'LatencyAnomaly');
    const a = labelsFromRecord({ __name__: 'lat', job: 'a' });
    const b = labelsFromRecord({ __name__: 'lat', job: 'b' });
    for (let i = 0; i < 10; i++) {
      d.observe(
        [
          { labels: a, value: 10 + (i % 2), t: 0 },
          { labels: b, value: 50 + (i % 2), t: 0 },
        ],
        i * 1000,
      );
    }
    expect(d.seriesCount).toBe(2);
    const scores = d.observe(
      [
        { labels: a, value: 40, t: 0 },
        { labels: b, value: 0, t: 0 }, // a drop: ignored by direction: up
        { labels: b, value: Number.NaN, t: 0 },
      ],
      10_000,
    );
    expect(scores.map((s) => [labelsToRecord(s.labels).job, s.anomalous])).toEqual([
      ['a', true],
      ['b', false],
    ]);
    expect(scores[1]!.z).toBeLessThan(-4);
    const written = d.scoreSamples(scores, 10_000).filter((s) => labelsToRecord(s.labels).job === 'a');
    expect(written.map((s) => labelsToRecord(s.labels))).toEqual(
      ['anomaly_zscore', 'anomaly_baseline', 'anomaly_lower', 'anomaly_upper'].map((n) => ({
        __name__: n,
        anomaly_rule: 'LatencyAnomaly',
        job: 'a',
      })),
    );
    const [z, base, lo, hi] = written.map((s) => s.value);
    expect(base).toBeGreaterThan(10);
    expect(base).toBeLessThan(11);
    expect(lo).toBeLessThan(base!);
    expect(hi).toBeGreaterThan(base!);
    expect(z).toBeCloseTo((40 - base!) / ((hi! - base!) / 4), 6);
  });

  it('reads anomaly rules from a rule file, and an alerting rule built on it carries the detector', () => {
    const [s] = parseRuleFile(
      {
        groups: [
          {
            name: 'g',
            rules: [
              {
                alert: 'LatencyAnomaly',
                expr: 'lat',
                for: '1m',
                anomaly: { alpha: 0.2, z: 3.5, direction: 'up', season: '1d', season_buckets: 48 },
              },
            ],
          },
        ],
      },
      5000,
    );
    if (s?.kind !== 'alerting') throw new Error('expected an alerting rule');
    expect(s.anomaly).toEqual({
      alpha: 0.2,
      z: 3.5,
      direction: 'up',
      warmup: 10,
      seasonMs: DAY,
      seasonBuckets: 48,
    });
    expect(new AlertingRule(s).detector).not.toBeNull();
    const [plain] = parseRuleFile({ groups: [{ name: 'g', rules: [{ alert: 'X', expr: 'up' }] }] }, 5000);
    expect(plain?.kind === 'alerting' && plain.anomaly).toBe(null);
  });

  it.each([
    [{ alpha: 0 }, 'alpha'],
    [{ alpha: 1.5 }, 'alpha'],
    [{ z: -1 }, 'z'],
    [{ direction: 'sideways' }, 'direction'],
    [{ warmup: 1 }, 'warmup'],
    [{ season: 'daily' }, 'season'],
    [{ season_buckets: 1 }, 'season_buckets'],
    [{ zz: 3 }, "unknown field 'zz'"],
    ['yes', 'must be a mapping'],
  ])('refuses anomaly: %j', (anomaly, message) => {
    const doc = { groups: [{ name: 'g', rules: [{ alert: 'A', expr: 'up', anomaly }] }] };
    expect(() => parseRuleFile(doc, 5000)).toThrow(ConfigFileError);
    expect(() => parseRuleFile(doc, 5000)).toThrow(message);
  });

  it('refuses anomaly: on a recording rule', () => {
    const doc = { groups: [{ name: 'g', rules: [{ record: 'r', expr: 'up', anomaly: {} }] }] };
    expect(() => parseRuleFile(doc, 5000)).toThrow("invalid field 'anomaly'");
  });
});
