// The NTP-style clock-offset estimator (core/clock-offset.ts) on seeded probes: the bounds
// always hold the true offset, intersecting 1-second Date stamps narrows them, a stepped
// clock is followed at once, and millisecond stamps show drift. Then a real process: a
// monitoring node started with --chaos gets its wall clock skewed over HTTP, and a second
// node scraping it sees the skew in /api/v1/clocks and in monitoring_clock_offset_seconds.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseConfig, pollUntil } from '@ddia/common';
import { SeededRandom } from '@ddia/common/core';
import { freePort } from '@ddia/testkit';
import { describe, expect, it } from 'vitest';
import { ClockOffsetEstimator, type ClockProbe } from '../src/core/clock-offset.js';
import { MONITORING_FLAGS, startMonitoring } from '../src/monitoring-node.js';
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

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));

describe('a --chaos clock skew on a real process', () => {
  it('shows up in the offset another node estimates from its answers, and heals', async () => {
    const port = await freePort();
    const target = `127.0.0.1:${port}`;
    const child: ChildProcess = spawn(
      process.execPath,
      [MAIN, '--port', String(port), '--chaos', '--scrape-interval', '1s', '--log-level', 'warn'],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const watcher = await startMonitoring(
      parseConfig(
        ['--scrape', `lab=${target}`, '--scrape-interval', '100ms', '--log-level', 'silent'],
        {},
        MONITORING_FLAGS,
      ),
    );
    try {
      await pollUntil(
        () =>
          fetch(`http://${target}/health`).then(
            (r) => r.ok,
            () => false,
          ),
        {
          timeoutMs: 30_000,
          what: 'the --chaos node to answer /health',
        },
      );
      const skew = (body: unknown) =>
        fetch(`http://${target}/chaos/clock-skew`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      // Bad input is a 400 problem+json; a node without --chaos has no such route.
      const bad = await skew({ ms: 'soon' });
      expect(bad.status).toBe(400);
      expect(bad.headers.get('content-type')).toContain('application/problem+json');
      expect((await fetch(`${watcher.url}/chaos/clock-skew`, { method: 'POST' })).status).toBe(404);

      const clock = async () => {
        const body = (await (await fetch(`${watcher.url}/api/v1/clocks`)).json()) as {
          data: { instance: string; offsetMs: number; errorMs: number }[];
        };
        return body.data.find((c) => c.instance === target);
      };
      /** Waits until the estimate's bounds hold `ms` and are tighter than 250 ms. */
      const settlesAt = (ms: number) =>
        pollUntil(
          async () => {
            const c = await clock();
            return c && Math.abs(c.offsetMs - ms) <= c.errorMs && c.errorMs < 250 ? c : undefined;
          },
          { timeoutMs: 30_000, what: `the estimated offset to hold ${ms} ms` },
        );
      // The same machine: the offset starts near 0 (millisecond x-ddia-wall-ms stamps).
      await settlesAt(0);
      expect(((await (await skew({ ms: 5000 })).json()) as { clockSkewMs: number }).clockSkewMs).toBe(5000);
      const skewed = await settlesAt(5000);
      expect(skewed.offsetMs).toBeGreaterThan(4700);
      // Stored as a series too, so the dashboard and alert rules can use it.
      await pollUntil(
        async () => {
          const q = encodeURIComponent(`monitoring_clock_offset_seconds{instance="${target}"} > 4.5`);
          const r = (await (await fetch(`${watcher.url}/api/v1/query?query=${q}`)).json()) as {
            data: { result: unknown[] };
          };
          return r.data.result.length === 1;
        },
        { timeoutMs: 30_000, what: 'monitoring_clock_offset_seconds to show the skew' },
      );
      expect((await skew({ ms: 0 })).status).toBe(200);
      await settlesAt(0);
    } finally {
      await watcher.close();
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    }
  }, 90_000);
});
