// Online secondary-index creation (CREATE INDEX while writes continue). POST /indexes commits a
// `create_index` command to the controller log; each node, once it applies that epoch:
//   1. adds the index to its store, so every write from then on maintains it (in the write's
//      own batch: local entries, or outbox entries for a global index);
//   2. backfills the documents already there, partition by partition, in chunks taken under
//      the partition's lock (a chunk reads each document's current value and writes its index
//      entry atomically with respect to writes; between chunks writes proceed);
//   3. records each partition as built (b:<index>:<partition>, synced), so a restart resumes
//      with the partitions not yet built; a partition that arrives by a move is backfilled
//      again by its new owner (idempotent).
// The index is ready when every owner reports every partition it owns built; until then a
// query may miss documents not yet reached (GET /indexes/:name/status says which).
import type { ConfigMachine } from '../controller/config-machine.js';
import type { ClusterConfig, IndexSpec } from '../core/index.js';
import type { PartitionStore } from '../data/partition-store.js';

/** Documents per backfill chunk (one batch, one hold of the partition's lock). */
export const BACKFILL_CHUNK = 200;
const RETRY_MS = 500;

export interface IndexBuildStatus {
  name: string;
  since: number;
  /** Partitions this node owns now. */
  owned: number;
  /** Of those, the ones whose backfill finished. */
  built: number;
  documentsIndexed: number;
}

export class IndexBuilder {
  private running: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly indexed = new Map<string, number>();

  constructor(
    private readonly selfId: string,
    private readonly machine: ConfigMachine,
    private readonly store: PartitionStore,
    /** Names declared by flag: an online index may not reuse one. */
    private readonly declared: ReadonlySet<string>,
    private readonly log: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void },
  ) {}

  start(): void {
    this.machine.on('config', () => this.kick());
    this.kick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** The online indexes this node has applied. */
  online(config: ClusterConfig | null = this.machine.config): (IndexSpec & { since: number })[] {
    return (config?.indexes ?? []).filter((i) => !this.declared.has(i.name));
  }

  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.run()
      .catch((error: unknown) => {
        this.log.warn({ err: error }, 'index backfill failed; will retry');
        this.timer = setTimeout(() => this.kick(), RETRY_MS);
        this.timer.unref();
      })
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private async run(): Promise<void> {
    const config = this.machine.config;
    if (!config) return;
    for (const spec of this.online(config)) {
      if (this.store.addIndex({ name: spec.name, field: spec.field, kind: spec.kind })) {
        this.log.info({ index: spec.name, epoch: config.epoch }, 'maintaining an online index; backfilling');
      }
    }
    for (const spec of this.online(config)) {
      for (const partition of config.partitions) {
        if (this.stopped) return;
        if (!this.serves(partition.id)) continue;
        if (await this.store.built(spec.name, partition.id)) continue;
        let after: string | null = null;
        for (;;) {
          // Still ours, at the latest applied config (a move may have frozen it meanwhile).
          const current = this.machine.config?.partitions.find((p) => p.id === partition.id);
          if (this.stopped || !current || !this.serves(partition.id)) break;
          const chunk = await this.store.backfill(current, spec.name, after, BACKFILL_CHUNK);
          this.indexed.set(spec.name, (this.indexed.get(spec.name) ?? 0) + chunk.documents);
          after = chunk.next;
          if (after === null) break;
          // Let writes waiting on the lock go first.
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
    }
  }

  private serves(partitionId: number): boolean {
    const config = this.machine.config;
    const partition = config?.partitions.find((p) => p.id === partitionId);
    return (
      !!config &&
      partition?.owner === this.selfId &&
      !partition.frozen &&
      this.store.sealedEpoch(partitionId) <= config.epoch
    );
  }

  async status(): Promise<IndexBuildStatus[]> {
    const config = this.machine.config;
    const out: IndexBuildStatus[] = [];
    for (const spec of this.online(config)) {
      let owned = 0;
      let built = 0;
      for (const partition of config?.partitions ?? []) {
        if (partition.owner !== this.selfId) continue;
        owned++;
        if (await this.store.built(spec.name, partition.id)) built++;
      }
      out.push({
        name: spec.name,
        since: spec.since,
        owned,
        built,
        documentsIndexed: this.indexed.get(spec.name) ?? 0,
      });
    }
    return out;
  }
}
