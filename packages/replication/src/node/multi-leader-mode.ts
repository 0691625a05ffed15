// Multi-leader mode: every node takes writes and pushes them to the others (core/multi-leader.ts).
import type { Clock } from '@ddia/common';
import {
  MULTI_LEADER_DEFAULTS,
  type MultiLeaderConfig,
  type MultiLeaderMessage,
  MultiLeaderNode,
  type MultiLeaderRequest,
} from '../core/multi-leader.js';
import type { KeyRecord, RequestResult } from '../core/ready.js';
import { Driver } from './driver.js';
import type { Journal } from './journal.js';
import { type ClusterStatus, DrivenMode, type KvOp, type ModeNode } from './mode.js';
import type { PeerTransport } from './transport.js';

export class MultiLeaderMode
  extends DrivenMode<MultiLeaderMessage, MultiLeaderRequest, KeyRecord>
  implements ModeNode
{
  readonly mode = 'multi-leader' as const;
  readonly core: MultiLeaderNode;
  readonly driver: Driver<MultiLeaderMessage, MultiLeaderRequest, KeyRecord>;

  constructor(
    config: Pick<MultiLeaderConfig, 'id' | 'nodes'> & Partial<MultiLeaderConfig>,
    clock: Clock,
    journal: Journal<KeyRecord>,
    transport: PeerTransport<MultiLeaderMessage>,
    onFatal: (error: unknown) => void,
    private readonly resolution: string,
    /** Journal records that trigger a compaction (0: never). */
    compactRecords = 0,
  ) {
    super();
    this.core = new MultiLeaderNode({ ...MULTI_LEADER_DEFAULTS, ...config }, clock);
    this.driver = new Driver(this.core, journal, transport, onFatal, compactRecords);
  }

  run(op: KvOp): Promise<RequestResult> {
    if (op.kind === 'read') return this.driver.submit({ kind: 'read', key: op.key });
    return this.driver.submit({ kind: 'write', key: op.key, mutation: op.mutation });
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
        role: 'leader',
        alive: this.core.alive(id),
        lag: id === config.id ? null : { keysNotAcknowledged: this.core.backlog(id) },
      })),
      settings: { resolution: this.resolution },
      stats: {
        keys: this.core.store.size,
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
