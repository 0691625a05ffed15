// Leaderless mode: the Dynamo-style core (core/leaderless.ts) behind the node's driver.
import type { Clock } from '@ddia/common';
import {
  LEADERLESS_DEFAULTS,
  type LeaderlessConfig,
  type LeaderlessMessage,
  LeaderlessNode,
  type LeaderlessRequest,
} from '../core/leaderless.js';
import type { KeyRecord, RequestResult } from '../core/ready.js';
import { Driver } from './driver.js';
import type { Journal } from './journal.js';
import { type ClusterStatus, DrivenMode, type KvOp, type ModeNode } from './mode.js';
import type { PeerTransport } from './transport.js';

export class LeaderlessMode
  extends DrivenMode<LeaderlessMessage, LeaderlessRequest, KeyRecord>
  implements ModeNode
{
  readonly mode = 'leaderless' as const;
  readonly core: LeaderlessNode;
  readonly driver: Driver<LeaderlessMessage, LeaderlessRequest, KeyRecord>;

  constructor(
    config: Pick<LeaderlessConfig, 'id' | 'nodes' | 'n' | 'r' | 'w'> & Partial<LeaderlessConfig>,
    clock: Clock,
    journal: Journal<KeyRecord>,
    transport: PeerTransport<LeaderlessMessage>,
    onFatal: (error: unknown) => void,
    private readonly sloppy: boolean,
    /** Journal records that trigger a compaction (0: never). */
    compactRecords = 0,
  ) {
    super();
    this.core = new LeaderlessNode({ ...LEADERLESS_DEFAULTS, ...config }, clock);
    this.driver = new Driver(this.core, journal, transport, onFatal, compactRecords);
  }

  run(op: KvOp): Promise<RequestResult> {
    if (op.kind === 'read')
      return this.driver.submit({ kind: 'read', key: op.key, ...(op.r ? { r: op.r } : {}) });
    return this.driver.submit({
      kind: 'write',
      key: op.key,
      mutation: op.mutation,
      sloppy: this.sloppy,
      ...(op.w ? { w: op.w } : {}),
    });
  }

  status(urls: ReadonlyMap<string, string>): ClusterStatus {
    const config = this.core.config;
    return {
      mode: this.mode,
      self: config.id,
      epoch: null,
      leader: null,
      members: config.nodes.map((id) => ({
        id,
        url: urls.get(id) ?? '',
        role: 'replica',
        alive: this.core.alive(id),
        lag: id === config.id ? null : { hintsHeld: this.core.hints.get(id)?.size ?? 0 },
      })),
      settings: { n: config.n, r: config.r, w: config.w, sloppyQuorum: this.sloppy },
      stats: {
        keys: this.core.store.size,
        hints: this.core.hintCount(),
        ...this.core.stats,
        antiEntropyBytesSent: this.core.antiEntropy.stats.bytesSent,
        antiEntropyKeysRepaired: this.core.antiEntropy.stats.keysRepaired,
      },
    };
  }

  ready(): boolean {
    return true;
  }
}
