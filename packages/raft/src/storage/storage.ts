// What the driver needs from durable storage. `save` is called with each Ready's snapshot,
// entries and hard state, and must not resolve before they are durable: the driver sends the
// Ready's messages only afterwards (Figure 2: "persistent state ... updated on stable storage
// before responding to RPCs").
import type { RaftInitialState } from '../core/raft.js';
import type { Entry, HardState, Snapshot } from '../core/types.js';

export interface StorageUpdate {
  /** A snapshot received from the leader: replaces the log up to its index. */
  snapshot: Snapshot | null;
  /** New entries; any stored entry at or after entries[0].index is replaced. */
  entries: Entry[];
  hardState: HardState | null;
}

export interface RaftStorage {
  /** The persisted state, or null for a node that has never stored anything. */
  load(): Promise<RaftInitialState | null>;
  save(update: StorageUpdate): Promise<void>;
  /** The application took a snapshot at `snapshot.meta.index`: keep it, drop older entries. */
  saveSnapshot(snapshot: Snapshot): Promise<void>;
  close(): Promise<void>;
}
