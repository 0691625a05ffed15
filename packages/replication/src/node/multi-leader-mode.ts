// Multi-leader mode: every node takes writes and pushes them to the others (core/multi-leader.ts).
import {
  MULTI_LEADER_DEFAULTS,
  type MultiLeaderConfig,
  type MultiLeaderMessage,
  MultiLeaderNode,
  type MultiLeaderRequest,
} from '../core/multi-leader.js';
import type { KeyRecord, RequestResult } from '../core/ready.js';
import { KeyStateMode, type KvOp, type ModeIo, type ModeNode } from './mode.js';

export class MultiLeaderMode
  extends KeyStateMode<MultiLeaderMessage, MultiLeaderRequest, MultiLeaderNode>
  implements ModeNode
{
  readonly mode = 'multi-leader' as const;
  protected readonly role = 'leader';

  constructor(
    config: Pick<MultiLeaderConfig, 'id' | 'nodes'> & Partial<MultiLeaderConfig>,
    io: ModeIo<MultiLeaderMessage, KeyRecord>,
    /** The default type of a PUT without `?type=` (shown in /cluster). */
    private readonly resolution: string,
  ) {
    super(new MultiLeaderNode({ ...MULTI_LEADER_DEFAULTS, ...config }, io.clock), io);
  }

  run(op: KvOp): Promise<RequestResult> {
    if (op.kind === 'read') return this.driver.submit({ kind: 'read', key: op.key });
    return this.driver.submit({ kind: 'write', key: op.key, mutation: op.mutation });
  }

  protected lag(peer: string): Record<string, number> {
    return { keysNotAcknowledged: this.core.backlog(peer) };
  }

  protected settings(): Record<string, unknown> {
    return { resolution: this.resolution, topology: this.core.config.topology };
  }

  protected counts(): Record<string, number> {
    return {};
  }
}
