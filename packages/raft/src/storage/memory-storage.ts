// Storage in memory, for simulation: "durable" means "survives a simulated crash", since the
// simulation keeps this object and throws the Raft core away. Synchronous underneath, with the
// async RaftStorage face on top for the driver.
import type { RaftInitialState } from '../core/raft.js';
import type { Entry, HardState, Snapshot } from '../core/types.js';
import type { RaftStorage, StorageUpdate } from './storage.js';

export class MemoryStorage implements RaftStorage {
  hardState: HardState | null = null;
  snapshot: Snapshot | null = null;
  entries: Entry[] = [];

  loadSync(): RaftInitialState | null {
    if (this.hardState === null && this.snapshot === null && this.entries.length === 0) return null;
    return {
      hardState: { ...(this.hardState ?? { term: 0, vote: null, commit: 0 }) },
      snapshot: this.snapshot,
      entries: [...this.entries],
    };
  }

  saveSync(update: StorageUpdate): void {
    if (update.snapshot) {
      const { index, term } = update.snapshot.meta;
      const at = this.entries.findIndex((e) => e.index === index);
      // Keep the suffix only if it continues the snapshot (Figure 13, receiver rule 6).
      this.entries = at >= 0 && this.entries[at].term === term ? this.entries.slice(at + 1) : [];
      this.snapshot = update.snapshot;
    }
    if (update.entries.length > 0) {
      const first = update.entries[0].index;
      this.entries = this.entries.filter((e) => e.index < first);
      this.entries.push(...update.entries);
    }
    if (update.hardState) this.hardState = { ...update.hardState };
  }

  saveSnapshotSync(snapshot: Snapshot): void {
    if (this.snapshot && this.snapshot.meta.index >= snapshot.meta.index) return;
    this.snapshot = snapshot;
    this.entries = this.entries.filter((e) => e.index > snapshot.meta.index);
  }

  async load(): Promise<RaftInitialState | null> {
    return this.loadSync();
  }
  async save(update: StorageUpdate): Promise<void> {
    this.saveSync(update);
  }
  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    this.saveSnapshotSync(snapshot);
  }
  async close(): Promise<void> {}
}
