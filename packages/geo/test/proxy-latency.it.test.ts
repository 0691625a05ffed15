// The injected latency is real: a ping-pong through testkit's fault proxy shows the configured
// one-way delays (issue 24 acceptance: "within a few percent"; the proxy-latency experiment
// reports the whole matrix). On this shared machine the event loop adds its own delay under load,
// so the upper bounds allow for the round trip the same proxy takes with no delay configured,
// measured just before.
import { describe, expect, it } from 'vitest';
import { pingPong } from '../src/experiments/proxy-latency.js';

async function baselineMs(): Promise<number> {
  const res = await pingPong({ latencyMs: 0, jitterMs: 0 }, { latencyMs: 0, jitterMs: 0 }, 8, 6);
  return res.p50Ms;
}

describe('latency injected through the fault proxy', () => {
  it('50 ± 5 ms each way measures as a ~100 ms round trip', async () => {
    const base = await baselineMs();
    const res = await pingPong({ latencyMs: 50, jitterMs: 5 }, { latencyMs: 50, jitterMs: 5 }, 12, 7);
    console.log(
      `expected 100 ms, mean ${res.meanMs.toFixed(1)} ms, median ${res.p50Ms.toFixed(1)} ms (no-delay round trip ${base.toFixed(1)} ms)`,
    );
    // Never faster than the delay allows (two directions, each at least 45 ms)...
    expect(Math.min(...res.rttsMs)).toBeGreaterThanOrEqual(90);
    // ...and on a quiet machine within ~2%; timers and a loaded CPU add a few ms more.
    expect(res.p50Ms).toBeGreaterThan(97);
    expect(res.p50Ms).toBeLessThan(110 + Math.max(3 * base, 20));
  });

  it('asymmetric paths add up: 10 ms there, 40 ms back', async () => {
    const base = await baselineMs();
    const res = await pingPong({ latencyMs: 10, jitterMs: 0 }, { latencyMs: 40, jitterMs: 0 }, 8, 8);
    expect(res.expectedRttMs).toBe(50);
    expect(Math.min(...res.rttsMs)).toBeGreaterThanOrEqual(49.5);
    expect(res.p50Ms).toBeLessThan(60 + Math.max(3 * base, 20));
  });
});
