// One simulated server: a Raft core, its "disk" (MemoryStorage, which survives a crash) and a
// tiny state machine (a running hash of applied entries, so two nodes that applied the same
// entries in the same order have the same state). Used by the seeded simulation, the scenario
// tests and the transcript tests.
import type { Random } from '@ddia/common';
import type { RaftLog } from '../core/log.js';
import { Raft, type RaftConfig } from '../core/raft.js';
import type { Message, NodeId, Ready, Snapshot } from '../core/types.js';
import { MemoryStorage } from '../storage/memory-storage.js';
import { entryKey, type LogView, type SafetyChecker } from './checker.js';

export type SimRaftOptions = Omit<RaftConfig, 'id' | 'random'>;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** FNV-1a over a string, folded into a running 32-bit state. */
export function foldHash(state: number, text: string): number {
  let h = state ^ 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export class SimNode {
  raft: Raft | null = null;
  readonly storage = new MemoryStorage();
  appliedIndex = 0;
  stateHash = 0;
  /** Application commands applied, in order (for transcripts and tests). */
  appliedCommands: string[] = [];
  readStates: { index: number; context: string }[] = [];
  /** Take an application snapshot every this many applied entries (0 = never). */
  snapshotEvery = 0;
  restarts = 0;
  /** Canary bookkeeping carried across crashes. */
  unsafeCommits = 0;

  constructor(
    readonly id: NodeId,
    private readonly options: SimRaftOptions,
    private readonly random: Random,
    private readonly checker: SafetyChecker | null,
  ) {}

  /** Every log this node might present to a voter: in memory, and on disk (after a crash). */
  logViews(): LogView[] {
    const views = [storageLogView(this.storage)];
    if (this.raft) views.push(memoryLogView(this.raft.log));
    return views;
  }

  get up(): boolean {
    return this.raft !== null;
  }

  start(): void {
    const initial = this.storage.loadSync() ?? {
      hardState: { term: 0, vote: null, commit: 0 },
      snapshot: null,
      entries: [],
    };
    // The state machine restarts from the last snapshot; the log replays the rest.
    const snap = initial.snapshot;
    this.appliedIndex = snap?.meta.index ?? 0;
    this.stateHash = snap ? decodeSimSnapshot(snap.data) : 0;
    this.raft = new Raft({ ...this.options, id: this.id, random: this.random.fork() }, initial);
  }

  /** A crash: everything not yet handed to storage is lost. */
  crash(): void {
    this.unsafeCommits += this.raft?.unsafeCommits ?? 0;
    this.raft = null;
    this.restarts++;
  }

  /** Persist a Ready (the "fsync"), then apply it; returns the messages to send. */
  persist(rd: Ready): void {
    this.storage.saveSync({ snapshot: rd.snapshot, entries: rd.entries, hardState: rd.hardState });
    this.checker?.persisted(this.id, storageLogView(this.storage).termAt, rd.entries);
  }

  apply(rd: Ready): Message[] {
    const raft = this.raft as Raft;
    if (rd.snapshot) {
      this.stateHash = decodeSimSnapshot(rd.snapshot.data);
      this.appliedIndex = rd.snapshot.meta.index;
    }
    for (const e of rd.committedEntries) {
      if (e.index <= this.appliedIndex) continue;
      this.appliedIndex = e.index;
      this.stateHash = foldHash(this.stateHash, `${e.index}:${entryKey(e)}`);
      if (e.type === 'normal') this.appliedCommands.push(textDecoder.decode(e.data));
      this.checker?.applied(this.id, e.index, this.stateHash);
    }
    this.readStates.push(...rd.readStates);
    raft.advance(rd);
    this.maybeSnapshot();
    return rd.messages;
  }

  /** Ready processed at once, as a driver with an instant disk would. */
  processReady(): Message[] {
    const raft = this.raft;
    if (!raft?.hasReady()) return [];
    const rd = raft.ready();
    this.persist(rd);
    return this.apply(rd);
  }

  private maybeSnapshot(): void {
    const raft = this.raft as Raft;
    if (this.snapshotEvery <= 0) return;
    const index = Math.min(this.appliedIndex, raft.log.applied);
    if (index - raft.log.snapshotMeta.index < this.snapshotEvery) return;
    this.takeSnapshot();
  }

  takeSnapshot(): Snapshot | null {
    const raft = this.raft as Raft;
    const index = Math.min(this.appliedIndex, raft.log.applied);
    if (index <= raft.log.snapshotMeta.index) return null;
    const snapshot: Snapshot = { meta: raft.snapshotMetaAt(index), data: encodeSimSnapshot(this.stateHash) };
    this.storage.saveSnapshotSync(snapshot);
    raft.compact(snapshot);
    return snapshot;
  }
}

export function memoryLogView(log: RaftLog): LogView {
  return {
    lastIndex: log.lastIndex(),
    lastTerm: log.lastTerm(),
    termAt: (index) => (index <= log.snapshotMeta.index ? 'compacted' : log.term(index)),
  };
}

export function storageLogView(storage: MemoryStorage): LogView {
  const snapIndex = storage.snapshot?.meta.index ?? 0;
  const snapTerm = storage.snapshot?.meta.term ?? 0;
  const last = storage.entries[storage.entries.length - 1];
  return {
    lastIndex: last?.index ?? snapIndex,
    lastTerm: last?.term ?? snapTerm,
    termAt: (index) => (index <= snapIndex ? 'compacted' : storage.entries[index - snapIndex - 1]?.term),
  };
}

export function encodeSimSnapshot(stateHash: number): Uint8Array {
  return textEncoder.encode(JSON.stringify({ stateHash }));
}

export function decodeSimSnapshot(data: Uint8Array): number {
  return (JSON.parse(textDecoder.decode(data)) as { stateHash: number }).stateHash;
}
