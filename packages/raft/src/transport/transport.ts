// How a driver talks to its peers. Best effort: a transport may drop, delay or reorder
// messages (Raft tolerates all three); it must never corrupt them.
import type { Message, NodeId } from '../core/types.js';

export interface Transport {
  /** Called once by the node: incoming messages go to `deliver`; a snapshot that could not be
   *  delivered is reported to `snapshotFailed` so that the leader retries sooner. */
  start(handlers: { deliver(messages: Message[]): void; snapshotFailed(to: NodeId): void }): void;
  send(messages: Message[]): void;
  /** The current peer addresses (id -> base URL), updated on membership changes. */
  setPeers(peers: Record<NodeId, string>): void;
  close(): Promise<void>;
}
