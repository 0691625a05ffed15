// The kv-store's own metrics, beside common's HTTP and process metrics: what Raft is doing
// (proposals, commits, applied index, leader changes, per-follower lag) and what clients see
// (latency by route and read consistency). DDIA ch. 1 "Maintainability: operability".
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ConsensusNode, ConsensusStatus, RaftBatchStats } from './cluster/consensus.js';
import type { KvStateMachine } from './store/state-machine.js';

const LATENCY_BUCKETS_S = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * The Raft driver's batch counters, each as a Prometheus counter: [stat, name, help]. Group
 * commit made visible: entries per log write = the ratio of the entries and log-write counters.
 */
const RAFT_COUNTERS: [stat: keyof RaftBatchStats, name: string, help: string][] = [
  ['readies', 'kv_raft_ready_cycles_total', 'Raft Ready cycles this node ran'],
  ['logWrites', 'kv_raft_log_writes_total', 'Raft log writes (each one fsync)'],
  ['entriesWritten', 'kv_raft_log_entries_written_total', 'Entries written to the Raft log'],
  ['messagesSent', 'kv_raft_messages_sent_total', 'Raft messages handed to the transport'],
  [
    'readRounds',
    'kv_raft_read_rounds_total',
    'ReadIndex rounds this node started (concurrent reads share one)',
  ],
];

export class KvMetrics {
  readonly proposals: Counter<'op' | 'outcome'>;
  readonly applied: Counter<'op' | 'status'>;
  readonly leaderChanges: Counter;
  readonly forwarded: Counter<'route'>;
  readonly latency: Histogram<'route' | 'method' | 'consistency' | 'status_code'>;

  constructor(registry: Registry, node: () => ConsensusNode | undefined, machine: KvStateMachine) {
    const registers = [registry];
    this.proposals = new Counter({
      name: 'kv_proposals_total',
      help: 'Commands proposed to Raft by this node, by outcome',
      labelNames: ['op', 'outcome'],
      registers,
    });
    this.applied = new Counter({
      name: 'kv_commits_applied_total',
      help: 'Committed commands applied to the local state machine',
      labelNames: ['op', 'status'],
      registers,
    });
    this.leaderChanges = new Counter({
      name: 'kv_leader_changes_total',
      help: 'Times this node saw the leader change',
      registers,
    });
    this.forwarded = new Counter({
      name: 'kv_forwarded_requests_total',
      help: 'Admin requests this follower forwarded to the leader (writes travel inside Raft messages)',
      labelNames: ['route'],
      registers,
    });
    this.latency = new Histogram({
      name: 'kv_request_duration_seconds',
      help: 'Client request latency by route and read consistency',
      labelNames: ['route', 'method', 'consistency', 'status_code'],
      buckets: LATENCY_BUCKETS_S,
      registers,
    });
    for (const [stat, name, help] of RAFT_COUNTERS) {
      new Counter({
        name,
        help,
        registers,
        collect() {
          const stats = node()?.stats;
          if (stats) {
            this.reset();
            this.inc(stats[stat]);
          }
        },
      });
    }
    new Gauge({
      name: 'kv_applied_index',
      help: 'Last log index applied to the state machine',
      registers,
      collect() {
        // Raft's applied index counts the entries without a command too (a new leader's empty
        // entry, membership changes), which the store never sees: with the store's own index
        // the node looked one behind its commit index after every election.
        this.set(node()?.status().appliedIndex ?? machine.appliedIndex);
      },
    });
    new Gauge({
      name: 'kv_store_revision',
      help: 'Store revision (counts writes that changed something)',
      registers,
      collect() {
        this.set(machine.revision);
      },
    });
    // Read from the Raft status at scrape time; left as they were while there is no node.
    const statusGauge = (name: string, help: string, read: (s: ConsensusStatus) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const status = node()?.status();
          if (status) this.set(read(status));
        },
      });
    statusGauge('kv_raft_commit_index', 'Raft commit index on this node', (s) => s.commitIndex);
    statusGauge('kv_raft_term', 'Current Raft term on this node', (s) => s.term);
    new Gauge({
      name: 'kv_raft_is_leader',
      help: '1 while this node is the leader',
      registers,
      collect() {
        this.set(node()?.status().role === 'leader' ? 1 : 0);
      },
    });
    new Gauge({
      name: 'kv_follower_lag_entries',
      help: 'Leader only: entries each follower is behind the leader’s last index',
      labelNames: ['follower'],
      registers,
      collect() {
        this.reset();
        const status = node()?.status();
        if (status?.role !== 'leader') return;
        for (const [follower, progress] of Object.entries(status.progress)) {
          this.set({ follower }, Math.max(0, status.lastIndex - progress.matchIndex));
        }
      },
    });
  }
}
