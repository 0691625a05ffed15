// Failure detection in the service: every successful scrape of a target is a heartbeat. A φ
// accrual detector and a fixed-timeout detector watch each target side by side (DDIA ch. 8,
// "timeouts and unbounded delays"); φ is exported as a metric, written to the TSDB as
// `monitoring_phi{job,instance}` on every tick so the dashboard can graph it, and listed at
// GET /api/v1/failure-detector.
import { FixedTimeoutDetector, PhiAccrualDetector } from './core/failure-detector.js';
import { normalizeLabels } from './core/labels.js';
import type { ScrapeTarget } from './core/scrape-config.js';

export interface DetectorView {
  job: string;
  instance: string;
  phi: number;
  suspect: boolean;
  fixedTimeoutSuspect: boolean;
  heartbeats: number;
  lastHeartbeatMs: number | null;
  meanIntervalMs: number;
  stdDevMs: number;
}

interface Watched {
  target: ScrapeTarget;
  phi: PhiAccrualDetector;
  fixed: FixedTimeoutDetector;
  heartbeats: number;
  lastHeartbeatMs: number | null;
}

export interface FailureWatchOptions {
  phiThreshold: number;
  /** The fixed detector's timeout, in scrape intervals (default 3, Prometheus-style "3 missed"). */
  fixedTimeoutIntervals?: number;
}

export class FailureWatch {
  private readonly watched = new Map<string, Watched>();

  constructor(private readonly options: FailureWatchOptions) {}

  private entry(target: ScrapeTarget): Watched {
    const key = `${target.job}|${target.address}`;
    let w = this.watched.get(key);
    if (!w) {
      w = {
        target,
        phi: new PhiAccrualDetector({
          threshold: this.options.phiThreshold,
          firstIntervalMs: target.intervalMs,
          minStdDevMs: Math.max(50, target.intervalMs / 10),
        }),
        fixed: new FixedTimeoutDetector(target.intervalMs * (this.options.fixedTimeoutIntervals ?? 3)),
        heartbeats: 0,
        lastHeartbeatMs: null,
      };
      this.watched.set(key, w);
    }
    return w;
  }

  /** Tracks `targets` only, forgetting removed ones. */
  setTargets(targets: readonly ScrapeTarget[]): void {
    const keep = new Set(targets.map((t) => `${t.job}|${t.address}`));
    for (const key of this.watched.keys()) if (!keep.has(key)) this.watched.delete(key);
    for (const t of targets) this.entry(t);
  }

  heartbeat(target: ScrapeTarget, nowMs: number): void {
    const w = this.entry(target);
    w.phi.heartbeat(nowMs);
    w.fixed.heartbeat(nowMs);
    w.heartbeats++;
    w.lastHeartbeatMs = nowMs;
  }

  view(nowMs: number): DetectorView[] {
    return [...this.watched.values()].map((w) => {
      const phi = w.phi.phi(nowMs);
      return {
        job: w.target.job,
        instance: w.target.address,
        phi,
        suspect: phi > this.options.phiThreshold,
        fixedTimeoutSuspect: w.lastHeartbeatMs === null ? false : w.fixed.suspect(nowMs),
        heartbeats: w.heartbeats,
        lastHeartbeatMs: w.lastHeartbeatMs,
        meanIntervalMs: w.phi.meanMs,
        stdDevMs: w.phi.stdDevMs,
      };
    });
  }

  /** Samples to store at `wallMs`: φ and both detectors' verdicts per target. */
  samples(nowMs: number, wallMs: number) {
    const out = [];
    for (const v of this.view(nowMs)) {
      const base: [string, string][] = [
        ['job', v.job],
        ['instance', v.instance],
      ];
      // φ is finite by construction, but cap it so graphs stay readable.
      out.push({
        labels: normalizeLabels([...base, ['__name__', 'monitoring_phi']]),
        t: wallMs,
        value: Math.min(v.phi, 1e3),
      });
      out.push({
        labels: normalizeLabels([...base, ['__name__', 'monitoring_suspect'], ['detector', 'phi']]),
        t: wallMs,
        value: v.suspect ? 1 : 0,
      });
      out.push({
        labels: normalizeLabels([...base, ['__name__', 'monitoring_suspect'], ['detector', 'fixed']]),
        t: wallMs,
        value: v.fixedTimeoutSuspect ? 1 : 0,
      });
    }
    return out;
  }
}
