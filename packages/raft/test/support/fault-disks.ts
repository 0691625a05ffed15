// The simulation's disks as FileStorage on testkit's FaultFileSystem: the production storage
// code, in memory, deterministic from a seed, and a power cut loses what was not synced (a
// prefix, a torn write, reordered sectors: the crash mode drawn from the seed).
import { FaultFileSystem } from '@ddia/testkit';
import { FileStorage, type NodeId, type RaftStorage, type SimDisks } from '../../src/index.js';

const DIR = '/data/raft';

export class FaultDisks implements SimDisks {
  private readonly disks = new Map<NodeId, FaultFileSystem>();

  constructor(private readonly seed: number) {}

  private disk(id: NodeId): FaultFileSystem {
    let fs = this.disks.get(id);
    if (!fs) {
      fs = new FaultFileSystem({ seed: this.seed * 31 + this.disks.size });
      this.disks.set(id, fs);
    }
    return fs;
  }

  async open(id: NodeId): Promise<RaftStorage> {
    return FileStorage.open({ dir: DIR, fs: this.disk(id), preallocateBytes: 0 });
  }

  powerLoss(id: NodeId): void {
    this.disks.set(id, this.disk(id).crash());
  }

  powerLossDuringWrite(id: NodeId, ops: number): void {
    this.disk(id).crashAfter(ops);
  }
}
