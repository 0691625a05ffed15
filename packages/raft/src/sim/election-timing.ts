// The paper's Figure 16 experiment, in simulation: a five-server cluster, the leader crashes,
// how long until a new leader exists? One tick is one virtual millisecond, so an election
// timeout range such as 150-155 ms is electionTicks=150, electionJitterTicks=5. Messages take
// a random 5-15 ms (the paper's cluster had a ~15 ms broadcast time). As in the paper, no
// PreVote or CheckQuorum: plain Raft.
import { SeededRandom } from '@ddia/common';
import { bootstrapState } from '../core/raft.js';
import type { Message, NodeId } from '../core/types.js';
import { EventQueue } from './event-queue.js';
import { SimNode } from './sim-node.js';

export interface ElectionTimingOptions {
  timeoutMinMs: number;
  timeoutMaxMs: number;
  trials: number;
  seed?: number;
  nodeCount?: number;
  heartbeatMs?: number;
  delayMinMs?: number;
  delayMaxMs?: number;
  /** A trial that has not elected by then is counted at this value (and flagged). */
  giveUpMs?: number;
}

export interface ElectionTimingResult {
  timeoutMinMs: number;
  timeoutMaxMs: number;
  trials: number;
  /** Milliseconds from the leader's crash to a new leader, sorted ascending. */
  samplesMs: number[];
  medianMs: number;
  p95Ms: number;
  maxMs: number;
  gaveUp: number;
}

type Ev = { kind: 'tick'; id: NodeId } | { kind: 'deliver'; m: Message };

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

export function measureElectionTimes(options: ElectionTimingOptions): ElectionTimingResult {
  const random = new SeededRandom(options.seed ?? 1);
  const nodeCount = options.nodeCount ?? 5;
  const heartbeatMs = options.heartbeatMs ?? 50;
  const delayMin = options.delayMinMs ?? 5;
  const delayMax = options.delayMaxMs ?? 15;
  const giveUpMs = options.giveUpMs ?? 10_000;
  const samples: number[] = [];
  let gaveUp = 0;
  const ids = Array.from({ length: nodeCount }, (_, i) => `s${i + 1}`);

  for (let trial = 0; trial < options.trials; trial++) {
    const nodes = new Map<NodeId, SimNode>();
    const queue = new EventQueue<Ev>();
    const boot = bootstrapState(ids.map((id) => ({ id })));
    for (const id of ids) {
      const node = new SimNode(
        id,
        {
          electionTicks: options.timeoutMinMs,
          electionJitterTicks: options.timeoutMaxMs - options.timeoutMinMs,
          heartbeatTicks: heartbeatMs,
          preVote: false,
          checkQuorum: false,
        },
        random,
        null,
      );
      node.storage.saveSync({ snapshot: null, entries: boot.entries, hardState: boot.hardState });
      node.start();
      nodes.set(id, node);
      queue.push(random.int(1, 1000) / 1000, { kind: 'tick', id });
    }
    const flush = (id: NodeId, now: number) => {
      const node = nodes.get(id) as SimNode;
      for (const m of node.processReady())
        queue.push(now + random.int(delayMin, delayMax), { kind: 'deliver', m });
    };
    const step = (now: number, ev: Ev) => {
      if (ev.kind === 'tick') {
        const node = nodes.get(ev.id) as SimNode;
        if (!node.raft) return;
        node.raft.tick();
        queue.push(now + 1, ev);
        flush(ev.id, now);
      } else {
        const node = nodes.get(ev.m.to) as SimNode;
        if (!node.raft) return;
        node.raft.step(ev.m);
        flush(ev.m.to, now);
      }
    };
    const leader = () => ids.find((id) => nodes.get(id)?.raft?.role === 'leader');
    // Warm up: elect a first leader and let it settle for a while (a random phase).
    let now = 0;
    const settleUntil = 3_000 + random.int(0, 1_000);
    while (now < settleUntil) {
      const ev = queue.pop();
      if (!ev) break;
      now = ev.atMs;
      step(now, ev.value);
    }
    const old = leader();
    if (!old) {
      gaveUp++;
      samples.push(giveUpMs);
      continue;
    }
    const oldTerm = nodes.get(old)?.raft?.term ?? 0;
    nodes.get(old)?.crash();
    const crashedAt = now;
    let elected = -1;
    while (now - crashedAt < giveUpMs) {
      const ev = queue.pop();
      if (!ev) break;
      now = ev.atMs;
      step(now, ev.value);
      const l = leader();
      if (l && (nodes.get(l)?.raft?.term ?? 0) > oldTerm) {
        elected = now - crashedAt;
        break;
      }
    }
    if (elected < 0) {
      gaveUp++;
      elected = giveUpMs;
    }
    samples.push(Math.round(elected));
  }
  samples.sort((a, b) => a - b);
  return {
    timeoutMinMs: options.timeoutMinMs,
    timeoutMaxMs: options.timeoutMaxMs,
    trials: options.trials,
    samplesMs: samples,
    medianMs: quantile(samples, 0.5),
    p95Ms: quantile(samples, 0.95),
    maxMs: samples[samples.length - 1],
    gaveUp,
  };
}
