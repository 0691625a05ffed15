// A service's wall clock, which `--chaos` can skew (POST /chaos/clock-skew {"ms": N}; 0 heals
// it), and the stamp answers carry: `x-ddia-wall-ms` (milliseconds) and `Date`, both read from
// that clock. A monitoring node that scrapes a service estimates the service's clock offset
// from those stamps, NTP-style (monitoring's core/clock-offset.ts), so a skew shows up there.
// The skew moves the wall clock only: timestamps a service takes from `wallMs()` shift, as on
// a machine whose clock is wrong, while timers and timeouts keep the monotonic clock.
import { Type } from 'typebox';
import { SystemClock, type TimerClock } from '../core/clock.js';
import type { ServiceApp } from './service.js';

/** The header with the answering node's wall clock in milliseconds since the epoch. */
export const WALL_MS_HEADER = 'x-ddia-wall-ms';
/** A skew beyond ±7 days is a typo, not an experiment. */
export const CLOCK_SKEW_MS_MAX = 7 * 24 * 3_600_000;

export class SkewableClock implements TimerClock {
  skewMs = 0;
  constructor(private readonly inner: TimerClock = new SystemClock()) {}
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
export function registerClockStamps(app: ServiceApp, clock: SkewableClock): void {
  app.addHook('onSend', (_request, reply, payload, done) => {
    const wall = Math.floor(clock.wallMs());
    reply.header(WALL_MS_HEADER, String(wall));
    reply.header('date', new Date(wall).toUTCString());
    done(null, payload);
  });
}

/** GET /chaos/clock-skew reads the skew; POST {"ms": N} sets it. Register only with --chaos. */
export function registerClockSkewRoutes(app: ServiceApp, clock: SkewableClock): void {
  const ops = { tags: ['chaos'] };
  app.get('/chaos/clock-skew', { schema: { ...ops, summary: 'The wall clock skew' } }, async () => ({
    clockSkewMs: clock.skewMs,
  }));
  app.post<{ Body: { ms: number } }>(
    '/chaos/clock-skew',
    {
      schema: {
        ...ops,
        summary: 'Skew the wall clock by ms (0 heals it)',
        body: Type.Object(
          { ms: Type.Integer({ minimum: -CLOCK_SKEW_MS_MAX, maximum: CLOCK_SKEW_MS_MAX }) },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      clock.skewMs = request.body.ms;
      request.log.warn({ skewMs: clock.skewMs }, 'wall clock skewed (chaos)');
      return { clockSkewMs: clock.skewMs };
    },
  );
}
