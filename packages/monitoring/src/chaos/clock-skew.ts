// The node's wall clock, which `--chaos` can skew (POST /chaos/clock-skew {"ms": N}), and the
// stamp every answer carries: `x-ddia-wall-ms` (milliseconds) and `Date`, both read from that
// clock. A monitoring node scraping this one estimates its offset from those stamps
// (core/clock-offset.ts), so a skew shows up on the other node's /api/v1/clocks and dashboard.
// The skew moves the wall clock only: sample timestamps, rule evaluation times and the stamps
// shift (as on a machine whose clock is wrong), while timers and the failure detector keep
// running on the monotonic clock.
import type { ServiceApp, TimerClock } from '@ddia/common';
import { Type } from 'typebox';
import { WALL_MS_HEADER } from '../scrape/scraper.js';

/** ±7 days, as the replication service's skew. */
export const CLOCK_SKEW_MS_MAX = 7 * 24 * 3_600_000;

export class SkewableClock implements TimerClock {
  skewMs = 0;
  constructor(private readonly inner: TimerClock) {}
  nowMs(): number {
    return this.inner.nowMs();
  }
  wallMs(): number {
    return this.inner.wallMs() + this.skewMs;
  }
  setTimeout(fn: () => void, delayMs: number): { cancel(): void } {
    return this.inner.setTimeout(fn, delayMs);
  }
}

/** Every answer is stamped with the node's (possibly skewed) wall clock. */
export function registerClockStamps(app: ServiceApp, clock: TimerClock): void {
  app.addHook('onSend', async (_request, reply) => {
    const wall = Math.floor(clock.wallMs());
    reply.header(WALL_MS_HEADER, String(wall));
    reply.header('date', new Date(wall).toUTCString());
  });
}

/** POST /chaos/clock-skew {"ms": N} sets the skew (0 heals it); GET reads it. Only with --chaos. */
export function registerClockSkewRoutes(app: ServiceApp, clock: SkewableClock): void {
  app.get('/chaos/clock-skew', async () => ({ clockSkewMs: clock.skewMs }));
  app.post<{ Body: { ms: number } }>(
    '/chaos/clock-skew',
    {
      schema: {
        body: Type.Object(
          { ms: Type.Integer({ minimum: -CLOCK_SKEW_MS_MAX, maximum: CLOCK_SKEW_MS_MAX }) },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      const { ms } = request.body;
      clock.skewMs = ms;
      request.log.warn({ skewMs: ms }, 'wall clock skewed (chaos)');
      return { clockSkewMs: clock.skewMs };
    },
  );
}
