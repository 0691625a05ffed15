// Delivers global (term-partitioned) index updates, asynchronously, to the partitions that hold
// their terms (DDIA ch. 6, Figure 6-5 and "updates to global secondary indexes are often
// asynchronous"). A document write puts its index updates in this node's outbox in the same
// synced batch as the document (partition-store.ts), so an acknowledged write's index updates
// survive a crash and are delivered after the restart. Delivery is at least once and in any
// order: a posting carries the document version it reflects and the newer version wins, so a
// repeat or a late arrival (the document's partition moved, two nodes deliver) changes nothing.
import type { HttpClient } from '@ddia/common';
import { postingKey } from '../core/index.js';
import type { OutboxEntry } from '../data/partition-store.js';
import { FORWARDED_HEADER } from '../http/forwarding.js';
import type { PartitionMetrics } from '../metrics.js';
import type { PartitionNode } from '../partition-node.js';

/** Outbox entries delivered per round. */
export const OUTBOX_BATCH_MAX = 200;
/** Pause before retrying entries whose partition was moving or whose owner was unreachable. */
export const OUTBOX_RETRY_MS = 200;
const DELIVERY_DEADLINE_MS = 2_000;

export class GlobalOutbox {
  private running = false;
  private again = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly node: PartitionNode,
    private readonly client: HttpClient,
    private readonly metrics: PartitionMetrics,
    private readonly log: { warn(obj: object, msg: string): void },
  ) {
    node.store.onOutbox = () => this.kick();
  }

  start(): void {
    this.kick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** Starts a delivery round now, or right after the one running. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.round()
      .catch((error: unknown) => {
        this.log.warn({ err: error }, 'global index delivery round failed');
        return true;
      })
      .then((retry) => {
        this.running = false;
        if (this.again) {
          this.again = false;
          this.kick();
        } else if (retry && !this.stopped) {
          this.timer = setTimeout(() => this.kick(), OUTBOX_RETRY_MS);
          this.timer.unref();
        }
      });
  }

  /** One pass over the outbox; true when some entries are left for later. */
  private async round(): Promise<boolean> {
    if (!this.node.machine.config) return true;
    const batch = await this.node.store.outbox(OUTBOX_BATCH_MAX);
    this.metrics.outboxEntries.set(batch.length);
    const delivered: string[] = [];
    for (const { key, entry } of batch) {
      if (await this.deliver(entry)) {
        delivered.push(key);
        this.metrics.globalIndexLag.observe(Math.max(0, Date.now() - entry.atMs) / 1000);
      }
    }
    await this.node.store.outboxDone(delivered);
    return delivered.length < batch.length || batch.length === OUTBOX_BATCH_MAX;
  }

  private async deliver(entry: OutboxEntry): Promise<boolean> {
    const key = postingKey(entry.index, entry.term, entry.key);
    const posting = { version: entry.version, live: entry.live };
    try {
      const placement = this.node.place(key);
      if (placement.kind === 'local') {
        await this.node.applyPosting(key, posting);
        return true;
      }
      const response = await this.client.request(`${placement.ownerUrl}/internal/postings`, {
        method: 'POST',
        body: { ...entry, ...posting },
        headers: { [FORWARDED_HEADER]: this.node.id },
        deadlineMs: DELIVERY_DEADLINE_MS,
        retry: false,
      });
      return response.status === 200;
    } catch {
      return false; // moving, unreachable, no configuration yet: stays in the outbox
    }
  }
}
