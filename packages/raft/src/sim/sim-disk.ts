// The disks of a simulated cluster run by the production driver (node-simulation.ts): what a
// node finds when it (re)starts, and what a power cut does to it. MemoryDisks keeps every
// completed write (the simulation alone decides which writes complete); a FileStorage on
// testkit's FaultFileSystem (test/support/fault-disks.ts) also loses what was written but not
// synced, and can lose power in the middle of a write, tearing it, as a real power cut does.
import type { NodeId } from '../core/types.js';
import { MemoryStorage } from '../storage/memory-storage.js';
import type { RaftStorage } from '../storage/storage.js';

export interface SimDisks {
  /** Node `id`'s storage as it is now (empty the first time). */
  open(id: NodeId): Promise<RaftStorage>;
  /** The power goes out at node `id`: what its disk had not made durable may be lost. */
  powerLoss(id: NodeId): void;
  /** Optional: the power goes out after `ops` more operations of node `id`'s disk, in the
   *  middle of the write about to run (every later call fails until `powerLoss`). */
  powerLossDuringWrite?(id: NodeId, ops: number): void;
}

/** In memory; a write the simulation completed survives every crash. */
export class MemoryDisks implements SimDisks {
  private readonly disks = new Map<NodeId, MemoryStorage>();

  async open(id: NodeId): Promise<RaftStorage> {
    let disk = this.disks.get(id);
    if (!disk) {
      disk = new MemoryStorage();
      this.disks.set(id, disk);
    }
    return disk;
  }

  powerLoss(): void {}
}
