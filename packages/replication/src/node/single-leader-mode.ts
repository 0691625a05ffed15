// Single-leader mode: PostgreSQL-style streaming of a replication log (core/single-leader.ts).
// Rows are strings; a mutation other than put or delete has no meaning here (400).
import type { RequestResult } from '../core/ready.js';
import {
  SINGLE_LEADER_DEFAULTS,
  type SingleLeaderConfig,
  type SingleLeaderMessage,
  SingleLeaderNode,
  type SingleLeaderRecord,
  type SingleLeaderRequest,
} from '../core/single-leader.js';
import { formatSyncRule } from '../core/sync-rule.js';
import { type ClusterStatus, DrivenMode, type KvOp, type ModeIo, type ModeNode } from './mode.js';

export class SingleLeaderMode
  extends DrivenMode<SingleLeaderMessage, SingleLeaderRequest, SingleLeaderRecord, SingleLeaderNode>
  implements ModeNode
{
  readonly mode = 'single-leader' as const;

  constructor(
    config: Pick<SingleLeaderConfig, 'id' | 'nodes' | 'initialLeader'> & Partial<SingleLeaderConfig>,
    io: ModeIo<SingleLeaderMessage, SingleLeaderRecord>,
  ) {
    super(new SingleLeaderNode({ ...SINGLE_LEADER_DEFAULTS, ...config }, io.clock), io);
  }

  run(op: KvOp): Promise<RequestResult> {
    if (op.kind === 'read') {
      return this.driver.submit({
        kind: 'read',
        key: op.key,
        ...(op.minPosition !== undefined ? { minPosition: op.minPosition } : {}),
      });
    }
    const { mutation } = op;
    if (mutation.op !== 'put' && mutation.op !== 'delete') {
      return Promise.resolve({
        ok: false,
        error: 'badRequest',
        detail: `single-leader rows are plain values: ${mutation.op} needs multi-leader or leaderless mode`,
      });
    }
    return this.driver.submit({
      kind: 'write',
      key: op.key,
      value: mutation.op === 'put' ? mutation.value : null,
      ...(op.sync !== undefined ? { sync: op.sync } : {}),
    });
  }

  promote(): Promise<RequestResult> {
    return this.driver.submit({ kind: 'promote' });
  }

  status(urls: ReadonlyMap<string, string>): ClusterStatus {
    const status = this.core.status();
    const config = this.core.config;
    const followers = new Map(status.followers.map((f) => [f.id, f]));
    return {
      mode: this.mode,
      self: config.id,
      epoch: status.epoch,
      leader: status.leader || null,
      members: config.nodes.map((id) => {
        const follower = followers.get(id);
        return {
          id,
          url: urls.get(id) ?? '',
          role: id === status.leader ? 'leader' : id === config.id ? status.role : 'follower',
          alive: id === config.id || (follower?.lastAckAgoMs ?? Number.POSITIVE_INFINITY) < config.leaseMs,
          lag: follower
            ? {
                lagEntries: follower.lagEntries,
                lagMs: follower.lagMs,
                lastAckAgoMs: follower.lastAckAgoMs,
                sync: follower.sync ? 1 : 0,
              }
            : null,
        };
      }),
      settings: {
        syncStandbys: formatSyncRule(config.syncStandbys),
        fencing: config.fencing,
        failoverAfterMs: config.failoverAfterMs,
        replicationFormat: config.replicationFormat,
        logRetainEntries: config.logRetainEntries,
      },
      stats: {
        position: status.position,
        lastEpoch: status.lastEpoch,
        snapshotPosition: status.snapshotPosition,
        acceptingWrites: status.acceptingWrites ? 1 : 0,
        entriesDiscarded: status.entriesDiscarded,
        elections: status.elections,
      },
    };
  }

  ready(): boolean {
    return this.core.currentLeader !== '';
  }
}
