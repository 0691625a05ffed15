// Leaderless mode: the Dynamo-style core (core/leaderless.ts) behind the node's driver.
import {
  LEADERLESS_DEFAULTS,
  type LeaderlessConfig,
  type LeaderlessMessage,
  LeaderlessNode,
  type LeaderlessRequest,
} from '../core/leaderless.js';
import type { KeyRecord, RequestResult } from '../core/ready.js';
import { KeyStateMode, type KvOp, type ModeIo, type ModeNode } from './mode.js';

export class LeaderlessMode
  extends KeyStateMode<LeaderlessMessage, LeaderlessRequest, LeaderlessNode>
  implements ModeNode
{
  readonly mode = 'leaderless' as const;
  protected readonly role = 'replica';

  constructor(
    config: Pick<LeaderlessConfig, 'id' | 'nodes' | 'n' | 'r' | 'w'> & Partial<LeaderlessConfig>,
    io: ModeIo<LeaderlessMessage, KeyRecord>,
    /** Writes may go to stand-ins with hinted handoff when a home replica is down. */
    private readonly sloppy: boolean,
  ) {
    super(new LeaderlessNode({ ...LEADERLESS_DEFAULTS, ...config }, io.clock), io);
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

  protected lag(peer: string): Record<string, number> {
    return { hintsHeld: this.core.hints.get(peer)?.size ?? 0 };
  }

  protected settings(): Record<string, unknown> {
    const { n, r, w, dcOf } = this.core.config;
    return { n, r, w, sloppyQuorum: this.sloppy, ...(dcOf ? { datacenters: Object.fromEntries(dcOf) } : {}) };
  }

  protected counts(): Record<string, number> {
    return { hints: this.core.hintCount() };
  }
}
