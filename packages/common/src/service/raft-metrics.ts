// One Raft group's state as Prometheus metrics, under the names every lab service uses for its
// Raft members: `<prefix>_raft_term`, `_raft_commit_index`, `_applied_index`, `_raft_is_leader`,
// `_leader_changes_total` and, on the leader, `_follower_lag_entries{follower}`. Monitoring's
// Raft page finds a cluster by `<prefix>_raft_term` and reads the rest by the same suffixes.
// The view is structural (a RaftNode from @ddia/raft fits), so common does not depend on raft.
import { Counter, Gauge, type Registry } from 'prom-client';

export interface RaftMetricsView {
  status(): {
    role: string;
    term: number;
    commitIndex: number;
    appliedIndex: number;
    lastIndex: number;
    progress: Record<string, { matchIndex: number }>;
  };
  /** Emitted when this node learns of a new leader. */
  on(event: 'leader', listener: () => void): unknown;
}

/** `group` names what the Raft log holds, for the help texts ("cluster metadata"). */
export function registerRaftMetrics(
  registry: Registry,
  prefix: string,
  group: string,
  raft: RaftMetricsView,
): void {
  const registers = [registry];
  type Status = ReturnType<RaftMetricsView['status']>;
  const gauge = (suffix: string, help: string, read: (s: Status) => number) =>
    new Gauge({
      name: `${prefix}_${suffix}`,
      help: `${group}: ${help}`,
      registers,
      collect() {
        this.set(read(raft.status()));
      },
    });
  gauge('raft_term', 'current Raft term on this node', (s) => s.term);
  gauge('raft_commit_index', 'Raft commit index on this node', (s) => s.commitIndex);
  gauge('applied_index', 'last log index applied on this node', (s) => s.appliedIndex);
  gauge('raft_is_leader', '1 while this node leads the Raft group', (s) => (s.role === 'leader' ? 1 : 0));
  const changes = new Counter({
    name: `${prefix}_leader_changes_total`,
    help: `${group}: times this node saw the Raft leader change`,
    registers,
  });
  raft.on('leader', () => changes.inc());
  new Gauge({
    name: `${prefix}_follower_lag_entries`,
    help: `${group}: leader only, entries each follower is behind the leader's last index`,
    labelNames: ['follower'],
    registers,
    collect() {
      this.reset();
      const s = raft.status();
      if (s.role !== 'leader') return;
      for (const [follower, progress] of Object.entries(s.progress))
        this.set({ follower }, Math.max(0, s.lastIndex - progress.matchIndex));
    },
  });
}
