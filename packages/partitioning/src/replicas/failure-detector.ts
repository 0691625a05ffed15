// Automatic failover of partitions (DDIA ch. 5 "Handling Node Outages: Leader failover", done per
// partition as in Kafka, whose controller moves partition leadership off a broker it has lost).
// Only the controller leader runs this: it probes every node's /health; a node that has not
// answered for `failoverMs` is declared dead (a timeout, with the book's caveat that a slow node
// looks the same), and for each partition it owned the leader commits `fail_over` to an in-sync
// follower that still answers. It also removes a dead node from the followers of other
// partitions, so that their owners bring them back to R copies on live nodes. A node declared dead
// by mistake loses nothing: it can no longer acknowledge writes (its followers refuse changes from
// an owner the configuration no longer names) and drops its copies once it applies the change.
import type { HttpClient } from '@ddia/common';
import type { ConfigMachine } from '../controller/config-machine.js';
import type { ConfigCommand, ConfigResult } from '../core/index.js';

/** How often the controller leader probes each node. */
export const PROBE_EVERY_MS = 500;
/** A probe's own deadline. */
export const PROBE_TIMEOUT_MS = 1_000;

export interface FailureDetectorEnv {
  selfId: string;
  machine: ConfigMachine;
  client: HttpClient;
  isLeader: () => boolean;
  propose: (command: ConfigCommand) => Promise<ConfigResult>;
  failoverMs: number;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  onFailover: () => void;
}

export class FailureDetector {
  /** When each node last answered a probe (performance.now()), while this node leads. */
  private readonly lastSeen = new Map<string, number>();
  private wasLeader = false;
  private acting = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly env: FailureDetectorEnv) {}

  start(): void {
    this.timer = setInterval(() => this.tick(), PROBE_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Nodes this leader currently takes for dead. */
  dead(): string[] {
    const now = performance.now();
    return [...this.lastSeen].filter(([, at]) => now - at > this.env.failoverMs).map(([id]) => id);
  }

  private tick(): void {
    const config = this.env.machine.config;
    const leader = this.env.isLeader();
    if (!leader || !config || (config.replicas ?? 1) <= 1) {
      this.wasLeader = false;
      this.lastSeen.clear();
      return;
    }
    const now = performance.now();
    // A new leader gives every node a full timeout before judging it.
    if (!this.wasLeader) for (const n of config.nodes) this.lastSeen.set(n.id, now);
    this.wasLeader = true;
    for (const n of config.nodes) {
      if (!this.lastSeen.has(n.id)) this.lastSeen.set(n.id, now);
      if (n.id === this.env.selfId) {
        this.lastSeen.set(n.id, now);
        continue;
      }
      void this.env.client
        .request(`${n.url}/health`, { deadlineMs: PROBE_TIMEOUT_MS, retry: false })
        .then((response) => {
          if (response.status === 200) this.lastSeen.set(n.id, performance.now());
        })
        .catch(() => undefined);
    }
    for (const id of this.lastSeen.keys())
      if (!config.nodes.some((n) => n.id === id)) this.lastSeen.delete(id);
    if (!this.acting) void this.act();
  }

  /** Commits the changes the dead nodes call for, one at a time. */
  private async act(): Promise<void> {
    this.acting = true;
    try {
      const dead = new Set(this.dead());
      if (dead.size === 0) return;
      const config = this.env.machine.config;
      if (!config) return;
      for (const partition of config.partitions) {
        if (!this.env.isLeader()) return;
        if (dead.has(partition.owner)) {
          const to = (partition.replicas ?? []).find((r) => !dead.has(r));
          if (to === undefined) continue;
          const result = await this.env.propose({
            op: 'fail_over',
            partition: partition.id,
            from: partition.owner,
            to,
          });
          if (result.ok) {
            this.env.onFailover();
            this.env.log.warn(
              { partition: partition.id, from: partition.owner, to, epoch: result.epoch },
              'owner unreachable: a follower now owns the partition',
            );
          }
          continue;
        }
        for (const follower of partition.replicas ?? []) {
          if (dead.has(follower))
            await this.env.propose({ op: 'drop_replica', partition: partition.id, node: follower });
        }
      }
    } catch (error) {
      this.env.log.warn({ err: error }, 'failover step failed; will retry');
    } finally {
      this.acting = false;
    }
  }
}
