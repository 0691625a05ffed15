// Generated heartbeat traces and a referee that scores failure detectors on them: the
// experiment behind the φ accrual paper's Figure 5, on synthetic traces with the chapter's
// troubles: jittery networks, stop-the-world pauses (DDIA ch. 8 "Process Pauses"), latency
// spikes, and finally a real crash.
import type { Random } from '@ddia/common/core';
import type { FailureDetector } from './failure-detector.js';

export interface TraceOptions {
  intervalMs: number;
  /** Standard deviation of the network delay added to each heartbeat. */
  jitterMs: number;
  durationMs: number;
  /** Per heartbeat, the chance that the sender pauses (a GC, a SIGSTOP) before sending. */
  pauseChance: number;
  pauseMinMs: number;
  pauseMaxMs: number;
  /** The sender crashes at this time and sends nothing more. */
  crashAtMs: number;
}

export interface HeartbeatTrace {
  /** Arrival times at the monitor, increasing. */
  arrivalsMs: number[];
  crashAtMs: number;
  durationMs: number;
}

/** An approximately normal variate (sum of uniforms): enough for network jitter. */
function gaussian(random: Random): number {
  let s = 0;
  for (let i = 0; i < 6; i++) s += random.next();
  return (s - 3) * Math.SQRT2;
}

export function generateTrace(options: TraceOptions, random: Random): HeartbeatTrace {
  const arrivals: number[] = [];
  let sendMs = 0;
  let lastArrival = Number.NEGATIVE_INFINITY;
  while (sendMs < options.crashAtMs && sendMs < options.durationMs) {
    if (random.chance(options.pauseChance)) sendMs += random.int(options.pauseMinMs, options.pauseMaxMs);
    if (sendMs >= options.crashAtMs) break;
    const delay = Math.max(0, 5 + gaussian(random) * options.jitterMs);
    // Heartbeats travel over one TCP connection, so they arrive in order.
    const arrival = Math.max(lastArrival, sendMs + delay);
    arrivals.push(arrival);
    lastArrival = arrival;
    sendMs += options.intervalMs;
  }
  return { arrivalsMs: arrivals, crashAtMs: options.crashAtMs, durationMs: options.durationMs };
}

export interface DetectorScore {
  /** Suspicions raised while the node was alive (each ended by a later heartbeat). */
  falsePositives: number;
  /** Time from the crash to the first suspicion after it; null if never suspected. */
  detectionMs: number | null;
  /** Fraction of the alive time spent wrongly suspecting the node. */
  mistakeRate: number;
}

/** Replays a trace into a detector, asking it every `stepMs`, and scores its answers. */
export function scoreDetector(trace: HeartbeatTrace, detector: FailureDetector, stepMs = 10): DetectorScore {
  let next = 0;
  let suspected = false;
  let falsePositives = 0;
  let wrongMs = 0;
  let detectionMs: number | null = null;
  for (let now = 0; now <= trace.durationMs; now += stepMs) {
    while (next < trace.arrivalsMs.length && trace.arrivalsMs[next]! <= now) {
      detector.heartbeat(trace.arrivalsMs[next]!);
      next++;
    }
    const alive = now < trace.crashAtMs;
    const suspectNow = detector.suspect(now);
    if (alive) {
      if (suspectNow && !suspected) falsePositives++;
      if (suspectNow) wrongMs += stepMs;
    } else if (suspectNow && detectionMs === null) {
      detectionMs = now - trace.crashAtMs;
    }
    suspected = suspectNow;
  }
  const aliveMs = Math.min(trace.crashAtMs, trace.durationMs);
  return { falsePositives, detectionMs, mistakeRate: aliveMs > 0 ? wrongMs / aliveMs : 0 };
}
