import { SeededRandom } from '@ddia/common/core';
import { describe, expect, it } from 'vitest';
import { FixedTimeoutDetector, PhiAccrualDetector, phiOfNormal } from '../src/core/failure-detector.js';
import { generateTrace, type HeartbeatTrace, scoreDetector } from '../src/core/heartbeat-trace.js';

const INTERVAL_MS = 1000;
const TRACE = {
  intervalMs: INTERVAL_MS,
  jitterMs: 40,
  durationMs: 30 * 60_000,
  pauseChance: 0.01,
  pauseMinMs: 1500,
  pauseMaxMs: 4000,
  crashAtMs: 25 * 60_000,
};

function traces(count: number, seed: number): HeartbeatTrace[] {
  return Array.from({ length: count }, (_, i) => generateTrace(TRACE, new SeededRandom(seed + i)));
}

function totals(all: HeartbeatTrace[], make: () => ReturnType<typeof newPhi> | FixedTimeoutDetector) {
  let falsePositives = 0;
  let detection = 0;
  for (const trace of all) {
    const score = scoreDetector(trace, make());
    falsePositives += score.falsePositives;
    expect(score.detectionMs).not.toBeNull();
    detection += score.detectionMs!;
  }
  return { falsePositives, meanDetectionMs: detection / all.length };
}

function newPhi(threshold: number) {
  return new PhiAccrualDetector({ threshold, firstIntervalMs: INTERVAL_MS });
}

describe('failure detectors', () => {
  it('φ grows with silence and is ~1 one standard deviation-ish past the mean', () => {
    expect(phiOfNormal(1000, 1000, 100)).toBeCloseTo(Math.log10(2), 2);
    expect(phiOfNormal(1300, 1000, 100)).toBeGreaterThan(2.5);
    expect(phiOfNormal(2000, 1000, 100)).toBeGreaterThan(phiOfNormal(1500, 1000, 100));
    const d = newPhi(8);
    for (let t = 0; t <= 10_000; t += 1000) d.heartbeat(t);
    expect(d.phi(10_500)).toBeLessThan(1);
    expect(d.phi(13_000)).toBeGreaterThan(8);
    expect(d.suspect(13_000)).toBe(true);
    d.heartbeat(13_100);
    expect(d.suspect(13_200)).toBe(false);
  });

  it('a fixed timeout suspects exactly after its timeout', () => {
    const d = new FixedTimeoutDetector(3000);
    d.heartbeat(0);
    expect(d.suspect(3000)).toBe(false);
    expect(d.suspect(3001)).toBe(true);
  });

  it('both detect the crash in every trace; each mistakes pauses for crashes at some threshold', () => {
    const all = traces(5, 42);
    const table = [
      { name: 'timeout 1.5 s', ...totals(all, () => new FixedTimeoutDetector(1500)) },
      { name: 'timeout 5 s', ...totals(all, () => new FixedTimeoutDetector(5000)) },
      { name: 'φ > 1', ...totals(all, () => newPhi(1)) },
      { name: 'φ > 8', ...totals(all, () => newPhi(8)) },
    ];
    console.log(
      table
        .map(
          (r) =>
            `${r.name}: ${r.falsePositives} false positives, detection ${Math.round(r.meanDetectionMs)} ms`,
        )
        .join('\n'),
    );
    const [short, long, phiLow, phiHigh] = table;
    // A short timeout catches the crash fast but flags pauses; a long one is the opposite.
    expect(short!.falsePositives).toBeGreaterThan(long!.falsePositives);
    expect(short!.meanDetectionMs).toBeLessThan(long!.meanDetectionMs);
    expect(long!.falsePositives).toBe(0);
    // φ's threshold is the same trade-off expressed as a confidence.
    expect(phiLow!.falsePositives).toBeGreaterThan(phiHigh!.falsePositives);
    expect(phiLow!.meanDetectionMs).toBeLessThan(phiHigh!.meanDetectionMs);
  });

  it('φ adapts to the sender: the same threshold waits longer for a slower, noisier sender', () => {
    const fast = newPhi(8);
    const slow = newPhi(8);
    const random = new SeededRandom(7);
    let tf = 0;
    let ts = 0;
    for (let i = 0; i < 100; i++) {
      fast.heartbeat((tf += 1000));
      slow.heartbeat((ts += 3000 + random.int(-800, 800)));
    }
    const silenceToSuspect = (d: PhiAccrualDetector, last: number) => {
      let t = last;
      while (!d.suspect(t)) t += 10;
      return t - last;
    };
    expect(silenceToSuspect(slow, ts)).toBeGreaterThan(2 * silenceToSuspect(fast, tf));
  });
});
