// The part of @ddia/raft's public API (packages/raft/API.md §1) that main.ts uses to build a
// node. Typed here from the documented API so that this package builds while the raft
// package's driver is landing; `loadRaft` checks at runtime that the exports are there.
import * as raftModule from '@ddia/raft';
import type { ConsensusNode } from './consensus.js';

export interface RaftStateMachine {
  apply(command: Uint8Array, meta: { index: number; term: number }): Promise<unknown> | unknown;
  snapshot(): Promise<Uint8Array> | Uint8Array;
  restore(data: Uint8Array, meta: { index: number; term: number }): Promise<void> | void;
}

export interface RaftNodeOptions {
  id: string;
  members: { id: string; url: string }[];
  join: boolean;
  storage: unknown;
  transport: unknown;
  stateMachine: RaftStateMachine;
  tickMs: number;
  electionTicks: number;
  heartbeatTicks: number;
  preVote: boolean;
  checkQuorum: boolean;
  readOnly: 'safe' | 'lease';
  snapshotEntries: number;
  logger?: unknown;
}

export interface StartedRaftNode extends ConsensusNode {
  stop(): Promise<void>;
}

export interface RaftBinding {
  RaftNode: { start(options: RaftNodeOptions): Promise<StartedRaftNode> };
  FileStorage: {
    open(options: { dir: string; fsync: 'always' | 'group' | 'interval' | 'never' }): Promise<unknown>;
  };
  MemoryStorage: new () => unknown;
  HttpTransport: new (options: { self: string; peers: Record<string, string> }) => unknown;
  registerRaftRoutes(app: unknown, node: StartedRaftNode): void;
}

export class RaftUnavailableError extends Error {
  override name = 'RaftUnavailableError';
}

export function loadRaft(): RaftBinding {
  const binding = raftModule as unknown as Partial<RaftBinding>;
  const missing = (
    ['RaftNode', 'FileStorage', 'MemoryStorage', 'HttpTransport', 'registerRaftRoutes'] as const
  ).filter((name) => binding[name] === undefined);
  if (missing.length > 0) {
    throw new RaftUnavailableError(
      `@ddia/raft does not export ${missing.join(', ')} yet (see packages/raft/API.md)`,
    );
  }
  return binding as RaftBinding;
}
