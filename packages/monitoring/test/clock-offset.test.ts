// The NTP-style clock-offset estimator (core/clock-offset.ts) on seeded probes: the bounds
// always hold the true offset, intersecting 1-second Date stamps narrows them, a stepped
// clock is followed at once, and millisecond stamps show drift. (A --chaos skew of a real
// process, seen by another node: test/service.test.ts.)
import { SeededRandom } from '@ddia/common/core';
import { describe, expect, it } from 'vitest';
import { ClockOffsetEstimator, type ClockProbe } from '../src/core/clock-offset.js';
import { clockStamp } from '../src/scrape/scraper.js';

/** A scrape at our time `t`: the target reads its clock (ours + offset + drift) mid-flight. */
function probe(
  rng: SeededRandom,
  t: number,
  offsetMs: number,
  resolutionMs: number,
  driftPpm = 0,
): ClockProbe {
  const delay = 0.5 + rng.next() * 20;
  const readAt = t + rng.next() * delay;
  const theirs = readAt + offsetMs + (readAt * driftPpm) / 1e6;
  return {
    sentMs: t,
    receivedMs: t + delay,
    stampMs: Math.floor(theirs / resolutionMs) * resolutionMs,
    resolutionMs,
  };
}

describe('clock offset estimator', () => {
  it.each([0, 7300, -2450.5])(
    'bounds always contain the true offset %d ms; Date stamps narrow to < 150 ms',
    (offset) => {
      const rng = new SeededRandom(11);
      const est = new ClockOffsetEstimator();
      let t = 1_000_000;
      for (let i = 0; i < 60; i++) {
        t += 180 + rng.next() * 40; // scrapes every ~200 ms, at drifting phases of the second
        est.add(probe(rng, t, offset, 1000));
        const e = est.estimate()!;
        expect(Math.abs(e.offsetMs - offset)).toBeLessThanOrEqual(e.errorMs + 1e-9);
      }
      const e = est.estimate()!;
      expect(e.errorMs).toBeLessThan(150);
      expect(e.probes).toBe(60);
    },
  );

  it('follows a stepped clock at once (newest probes win over an inconsistent past)', () => {
    const rng = new SeededRandom(5);
    const est = new ClockOffsetEstimator();
    let t = 0;
    for (let i = 0; i < 30; i++) est.add(probe(rng, (t += 200), 0, 1));
    est.add(probe(rng, (t += 200), 5000, 1)); // a chaos skew of +5 s
    const e = est.estimate()!;
    expect(e.probes).toBe(1);
    expect(Math.abs(e.offsetMs - 5000)).toBeLessThanOrEqual(e.errorMs);
  });

  it('measures drift from millisecond stamps', () => {
    const rng = new SeededRandom(9);
    const est = new ClockOffsetEstimator(64);
    // 64 probes 10 s apart (10 minutes), a clock gaining 200 µs/s = 200 ppm.
    for (let i = 0; i < 64; i++) est.add(probe(rng, 1e6 + i * 10_000, 30, 1, 200));
    const e = est.estimate()!;
    expect(e.driftPpm).not.toBeNull();
    expect(Math.abs(e.driftPpm! - 200)).toBeLessThan(20);
  });

  it('ignores a probe that arrived before it left; nothing to say with no probes', () => {
    const est = new ClockOffsetEstimator();
    expect(est.estimate()).toBeNull();
    est.add({ sentMs: 10, receivedMs: 5, stampMs: 0, resolutionMs: 1 });
    expect(est.size).toBe(0);
  });

  it('reads the stamp from x-ddia-wall-ms (1 ms) or the Date header (1 s)', () => {
    expect(clockStamp({ 'x-ddia-wall-ms': '1796610842401', date: 'Mon, 07 Dec 2026 02:40:57 GMT' })).toEqual({
      stampMs: 1796610842401,
      resolutionMs: 1,
    });
    expect(clockStamp({ date: 'Mon, 07 Dec 2026 02:40:57 GMT' })).toEqual({
      stampMs: Date.UTC(2026, 11, 7, 2, 40, 57),
      resolutionMs: 1000,
    });
    expect(clockStamp({ date: 'yesterday' })).toBeNull();
    expect(clockStamp({})).toBeNull();
  });
});
