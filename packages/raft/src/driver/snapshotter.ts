// Snapshots the node takes of its own state machine: when `snapshotEntries` entries were
// applied since the last one, or when asked (snapshotNow). The state machine captures its
// state as of the applied index when `snapshot()` is called and builds the image meanwhile
// (API.md §2), so the Ready loop goes on applying: walking a whole store took half a second
// here, and every request waited behind it (etcd builds its snapshots off the Raft loop too).
// The built image is installed by the Ready loop, one storage write at a time.
import type { Raft } from '../core/raft.js';
import type { Snapshot, SnapshotMeta } from '../core/types.js';
import type { RaftStorage } from '../storage/storage.js';

interface SnapshotRequest {
  resolve(v: { index: number; term: number }): void;
  reject(err: unknown): void;
}

interface SnapshotBuilding {
  meta: SnapshotMeta;
  requests: SnapshotRequest[];
  /** Set once the image is built (or failed); installed by the Ready loop. */
  outcome: { data: Uint8Array } | { failure: unknown } | null;
}

export interface SnapshotterOptions {
  raft: Raft;
  storage: RaftStorage;
  /** Captures the state machine's state now; may finish building later. */
  capture(): Promise<Uint8Array> | Uint8Array;
  snapshotEntries: number;
  /** Wakes the Ready loop (an image is built, or a request arrived). */
  kick(force?: boolean): void;
  logger?: { info(obj: object, msg?: string): void } | undefined;
}

export class Snapshotter {
  private requests: SnapshotRequest[] = [];
  private building: SnapshotBuilding | null = null;

  constructor(private readonly options: SnapshotterOptions) {}

  /** Asks for a snapshot now; resolves with the snapshot's index and term once it is saved. */
  request(): Promise<{ index: number; term: number }> {
    const promise = new Promise<{ index: number; term: number }>((resolve, reject) => {
      this.requests.push({ resolve, reject });
    });
    this.options.kick(true);
    return promise;
  }

  /** Work the Ready loop has to do: a request to serve, or a built image to install. */
  hasWork(): boolean {
    return (this.requests.length > 0 && this.building === null) || this.building?.outcome != null;
  }

  /** Starts a snapshot at `appliedIndex` when one is due or asked for. Called between Readies. */
  maybeStart(appliedIndex: number): void {
    if (this.building !== null) return;
    const { raft } = this.options;
    const requested = this.requests;
    const due = appliedIndex - raft.log.snapshotMeta.index >= this.options.snapshotEntries;
    if (requested.length === 0 && !due) return;
    this.requests = [];
    const index = Math.min(appliedIndex, raft.log.applied);
    if (index <= raft.log.snapshotMeta.index) {
      const taken = { index: raft.log.snapshotMeta.index, term: raft.log.snapshotMeta.term };
      for (const r of requested) r.resolve(taken);
      return;
    }
    // No apply runs here (between Readies): the state machine is at exactly `index`.
    const building: SnapshotBuilding = {
      meta: raft.snapshotMetaAt(index),
      requests: requested,
      outcome: null,
    };
    this.building = building;
    let image: Promise<Uint8Array>;
    try {
      image = Promise.resolve(this.options.capture());
    } catch (failure) {
      image = Promise.reject(failure);
    }
    image.then(
      (data) => {
        building.outcome = { data };
        this.options.kick();
      },
      (failure: unknown) => {
        building.outcome = { failure };
        this.options.kick();
      },
    );
  }

  /** Saves a built snapshot and compacts the log behind it (in the Ready loop: one write at a time). */
  async install(): Promise<void> {
    const building = this.building;
    if (building?.outcome == null) return;
    this.building = null;
    const { raft, storage, logger } = this.options;
    const { outcome, meta, requests } = building;
    if ('failure' in outcome) {
      for (const r of requests) r.reject(outcome.failure);
      throw outcome.failure;
    }
    // A snapshot from the leader may have overtaken this one meanwhile: then it is not needed.
    if (meta.index > raft.log.snapshotMeta.index) {
      const snapshot: Snapshot = { meta, data: outcome.data };
      try {
        await storage.saveSnapshot(snapshot);
        raft.compact(snapshot);
      } catch (failure) {
        // The node stops (the Ready loop's caller); whoever asked for this snapshot hears why.
        for (const r of requests) r.reject(failure);
        throw failure;
      }
      logger?.info({ index: meta.index }, 'raft snapshot taken, log compacted');
    }
    const taken = { index: raft.log.snapshotMeta.index, term: raft.log.snapshotMeta.term };
    for (const r of requests) r.resolve(taken);
  }

  rejectAll(err: unknown): void {
    for (const s of this.requests) s.reject(err);
    this.requests = [];
    for (const s of this.building?.requests ?? []) s.reject(err);
    this.building = null;
  }
}
