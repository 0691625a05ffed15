// Clock offset and drift of each scraped node, estimated NTP-style from the scrapes themselves
// ("Unreliable clocks"): every scrape is a probe. We read our wall clock when the request
// leaves (t0) and when the answer arrives (t3); the target stamped its answer with its own
// clock (the HTTP `Date` header every server sends, 1-second resolution, or a millisecond
// `x-ddia-wall-ms` header when the target sends one). The target read its clock at some
// instant u in [t0, t3] of ours, and its reading r lies in [stamp, stamp + resolution), so its
// offset θ = r − u lies in
//   [stamp − t3, stamp + resolution − t0]
// Each probe bounds θ; intersecting the bounds of many probes (Marzullo's idea, NTP's
// intersection) narrows a 1-second `Date` header to about the scrape interval's phase spread
// plus the round trip. Newest probes win: the intersection walks back from the newest probe
// and stops before a probe that would make it empty, so a clock that was stepped (a chaos
// skew) is followed at once instead of being averaged with its past. (A drifting clock also
// makes old probes inconsistent, so the run shortens to the probes the drift has not yet
// moved past their round trip.) Drift is the least-squares slope of the per-probe midpoints
// over the whole window (meaningful with millisecond stamps; with 1-second stamps it needs
// a long window, and a step inside the window spoils it until the step leaves the window).

export interface ClockProbe {
  /** Our wall clock when the request left, ms. */
  sentMs: number;
  /** Our wall clock when the answer arrived, ms. */
  receivedMs: number;
  /** The target's clock as it stamped the answer, ms (truncated to its resolution). */
  stampMs: number;
  /** 1000 for an HTTP Date header, 1 for a millisecond stamp. */
  resolutionMs: number;
}

export interface ClockEstimate {
  /** Target clock minus ours, ms: the middle of the intersection. */
  offsetMs: number;
  /** Half the intersection's width: the true offset is within offsetMs ± errorMs. */
  errorMs: number;
  /** The newest probe's round trip, ms. */
  delayMs: number;
  /** Drift of the target's clock against ours, parts per million (null with < 2 probes). */
  driftPpm: number | null;
  /** Probes in the intersection (the newest consistent run). */
  probes: number;
}

export class ClockOffsetEstimator {
  private readonly probes: ClockProbe[] = [];

  constructor(private readonly window = 64) {}

  add(probe: ClockProbe): void {
    if (!(probe.receivedMs >= probe.sentMs) || !Number.isFinite(probe.stampMs)) return;
    this.probes.push(probe);
    if (this.probes.length > this.window) this.probes.shift();
  }

  get size(): number {
    return this.probes.length;
  }

  estimate(): ClockEstimate | null {
    const n = this.probes.length;
    if (n === 0) return null;
    let low = Number.NEGATIVE_INFINITY;
    let high = Number.POSITIVE_INFINITY;
    let used = 0;
    for (let i = n - 1; i >= 0; i--) {
      const p = this.probes[i]!;
      const lo = Math.max(low, p.stampMs - p.receivedMs);
      const hi = Math.min(high, p.stampMs + p.resolutionMs - p.sentMs);
      if (lo > hi) break;
      low = lo;
      high = hi;
      used++;
    }
    const newest = this.probes[n - 1]!;
    return {
      offsetMs: (low + high) / 2,
      errorMs: (high - low) / 2,
      delayMs: newest.receivedMs - newest.sentMs,
      driftPpm: drift(this.probes),
      probes: used,
    };
  }
}

/** Least-squares slope of the probes' midpoint offsets against our time, in ppm. */
function drift(probes: readonly ClockProbe[]): number | null {
  if (probes.length < 2) return null;
  const xs = probes.map((p) => (p.sentMs + p.receivedMs) / 2);
  const ys = probes.map((p) => p.stampMs + p.resolutionMs / 2 - (p.sentMs + p.receivedMs) / 2);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < xs.length; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
  }
  return sxx === 0 ? null : (sxy / sxx) * 1e6;
}
