// Executes a fault schedule against a running cluster, on the wall clock, and always finishes
// by undoing everything: heal the network, clear latency, resume paused nodes, restart killed
// ones and reset clock skew, so that final reads see a whole cluster (Jepsen's final phase).
import { HttpClient } from '@ddia/common';
import type { Cluster } from '../harness/cluster.js';
import type { NemesisAction, NemesisSchedule } from './schedule.js';

/** Where a service started with --chaos takes `POST {skewMs}` to skew its clock. */
export const CLOCK_CHAOS_PATH_DEFAULT = '/chaos/clock';
const CONTROL_DEADLINE_MS = 5_000;
/** Chaos endpoints are called once each: a failed call is reported, never retried. */
const chaosClient = new HttpClient({ deadlineMs: CONTROL_DEADLINE_MS, retries: 0 });

export interface AppliedAction {
  /** When it was applied, ms after the nemesis started. */
  atMs: number;
  action: NemesisAction | { op: 'final-heal' };
  error?: string;
}

export interface NemesisRun {
  /** Resolves when the schedule ran out and the cluster was made whole again. */
  done: Promise<AppliedAction[]>;
  /** Skips the remaining steps and makes the cluster whole now. */
  stop(): Promise<AppliedAction[]>;
}

export interface RunNemesisOptions {
  cluster: Cluster;
  schedule: NemesisSchedule;
  clockChaosPath?: string;
}

export function runNemesis(options: RunNemesisOptions): NemesisRun {
  const { cluster, schedule } = options;
  const clockPath = options.clockChaosPath ?? CLOCK_CHAOS_PATH_DEFAULT;
  const applied: AppliedAction[] = [];
  const skewed = new Set<string>();
  const startMs = performance.now();
  let stopped = false;
  let wake: (() => void) | null = null;

  const apply = async (action: NemesisAction): Promise<void> => {
    switch (action.op) {
      case 'kill':
        return cluster.node(action.node).kill();
      case 'restart': {
        const node = cluster.node(action.node);
        if (node.state === 'stopped') await node.start();
        return;
      }
      case 'pause':
        return cluster.node(action.node).pause();
      case 'resume':
        return cluster.node(action.node).resume();
      case 'partition':
        cluster.proxies().heal();
        return cluster.proxies().cut(action.cuts);
      case 'heal':
        return cluster.proxies().heal();
      case 'latency':
        return cluster.proxies().latency(action.from, action.to, action.latencyMs, action.jitterMs);
      case 'clear-latency':
        for (const a of cluster.ids())
          for (const b of cluster.ids()) if (a !== b) cluster.proxies().latency(a, b, 0, 0);
        return;
      case 'clock-skew': {
        const node = cluster.node(action.node);
        const response = await chaosClient.request(`${node.directUrl}${clockPath}`, {
          method: 'POST',
          body: { skewMs: action.skewMs },
          deadlineMs: CONTROL_DEADLINE_MS,
        });
        if (response.status !== 200)
          throw new Error(`${clockPath} answered ${response.status}: ${response.text()}`);
        if (action.skewMs === 0) skewed.delete(action.node);
        else skewed.add(action.node);
        return;
      }
    }
  };

  const record = async (action: NemesisAction): Promise<void> => {
    const entry: AppliedAction = { atMs: Math.round(performance.now() - startMs), action };
    try {
      await apply(action);
    } catch (err) {
      // A fault that cannot be applied (a node that will not restart) is part of the report,
      // not a reason to leave the cluster broken.
      entry.error = (err as Error).message;
    }
    applied.push(entry);
  };

  const makeWhole = async (): Promise<void> => {
    const entry: AppliedAction = {
      atMs: Math.round(performance.now() - startMs),
      action: { op: 'final-heal' },
    };
    const errors: string[] = [];
    const attempt = async (what: () => Promise<void> | void) => {
      try {
        await what();
      } catch (err) {
        errors.push((err as Error).message);
      }
    };
    if (cluster.network) {
      await attempt(() => cluster.proxies().heal());
      await attempt(() => apply({ op: 'clear-latency' }));
    }
    for (const node of cluster.nodes) {
      if (node.state === 'paused') await attempt(() => node.resume());
      if (node.state === 'stopped') await attempt(() => node.start());
    }
    for (const id of [...skewed]) await attempt(() => apply({ op: 'clock-skew', node: id, skewMs: 0 }));
    if (errors.length > 0) entry.error = errors.join('; ');
    applied.push(entry);
  };

  const done = (async () => {
    // When a step runs late (a restart waits for readiness, the machine is loaded), every later
    // step moves by the same amount: each fault keeps the duration the schedule gave it instead
    // of ending the moment it began.
    let driftMs = 0;
    for (const step of schedule.steps) {
      const waitMs = startMs + step.atMs + driftMs - performance.now();
      if (waitMs < 0) driftMs -= waitMs;
      if (waitMs > 0 && !stopped) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, waitMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = null;
      }
      if (stopped) break;
      await record(step.action);
    }
    await makeWhole();
    return applied;
  })();

  return {
    done,
    stop() {
      stopped = true;
      (wake as (() => void) | null)?.();
      return done;
    },
  };
}
