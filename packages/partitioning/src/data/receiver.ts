// The receiving half of a partition move: copy the owner's snapshot, then pull its changes
// until caught up. The final pull, once the partition is frozen, asks the owner to seal it for
// the freeze's epoch as part of the first request for changes (one round trip fewer in the
// window in which the partition takes no requests), and pulls exactly up to the sealed number. A receiver that lost its place (the owner restarted, the change log was
// trimmed) copies the snapshot again.
import { DdiaError, type HttpClient } from '@ddia/common';
import type { ConfigMachine } from '../controller/config-machine.js';
import type { PartitionInfo } from '../core/index.js';
import { PartErrors } from '../errors.js';
import type { Change, PartitionStore, SnapshotItem } from './partition-store.js';

/** Catch-up rounds before the first pull returns even if writes keep coming: the final
 *  catch-up after the seal is what guarantees completeness. */
export const CATCHUP_ROUNDS_MAX = 20;
/** Snapshot copies one pull may start (a second one after a lost change log). */
const SNAPSHOT_ATTEMPTS_MAX = 3;
/** How long a pull waits for this node to apply the epoch the mover saw. */
export const EPOCH_WAIT_MS = 5_000;

interface Place {
  from: string;
  generation: string;
  seq: number;
}

export interface PullResult {
  seq: number;
  keysCopied: number;
  bytesCopied: number;
}

export class Receiver {
  private readonly places = new Map<number, Place>();
  private readonly pulling = new Map<number, Promise<unknown>>();

  constructor(
    private readonly store: PartitionStore,
    private readonly client: HttpClient,
    private readonly machine: ConfigMachine,
    private readonly selfId: string,
  ) {}

  async pull(partitionId: number, from: string, epoch: number, final: boolean): Promise<PullResult> {
    const config = await this.machine.waitEpoch(epoch, EPOCH_WAIT_MS).catch(() => {
      throw new DdiaError(PartErrors.notReady, `this node has not applied epoch ${epoch} yet`);
    });
    const partition = config.partitions.find((p) => p.id === partitionId);
    if (!partition) throw new DdiaError(PartErrors.unknownPartition, `no partition ${partitionId}`);
    if (partition.target !== this.selfId) {
      throw new DdiaError(
        PartErrors.configRefused,
        `partition ${partitionId} is not headed to ${this.selfId}`,
      );
    }
    // Pulls of one partition run one at a time; the partition's store lock is taken only to
    // apply what arrived, never across a request to the owner: the owner may be waiting, with
    // its own lock held, for a change it fed here (learn) to be applied.
    const previous = this.pulling.get(partitionId) ?? Promise.resolve();
    const run = previous.then(
      () => this.copy(partition, from, final ? epoch : undefined),
      () => this.copy(partition, from, final ? epoch : undefined),
    );
    const tail = run.catch(() => undefined);
    this.pulling.set(partitionId, tail);
    void tail.then(() => {
      if (this.pulling.get(partitionId) === tail) this.pulling.delete(partitionId);
    });
    return run;
  }

  /** `sealEpoch`: the freeze to seal for (the final pull), or undefined. */
  private async copy(
    partition: PartitionInfo,
    from: string,
    sealEpoch: number | undefined,
  ): Promise<PullResult> {
    const result: PullResult = { seq: 0, keysCopied: 0, bytesCopied: 0 };
    let place = this.places.get(partition.id);
    if (place?.from !== from) place = undefined;
    for (let attempt = 0; ; attempt++) {
      if (!place) {
        if (attempt >= SNAPSHOT_ATTEMPTS_MAX)
          throw new DdiaError(PartErrors.ownerUnreachable, 'the owner keeps losing its change log');
        const response = await this.client.request(`${from}/internal/partitions/${partition.id}/snapshot`, {
          retry: false,
        });
        if (response.status !== 200) throw remoteError(response.status, response.text());
        const snapshot = response.json<{ generation: string; seq: number; items: SnapshotItem[] }>();
        await this.store.withLock(partition.id, () =>
          this.store.importSnapshot(partition, snapshot.seq, snapshot.items),
        );
        result.keysCopied += snapshot.items.length;
        result.bytesCopied += response.body.length;
        place = { from, generation: snapshot.generation, seq: snapshot.seq };
        this.places.set(partition.id, place);
      }
      const lost = await this.catchUp(partition.id, place, sealEpoch, result);
      if (!lost) break;
      this.places.delete(partition.id);
      place = undefined;
    }
    result.seq = place.seq;
    return result;
  }

  /** Pulls changes; true when the owner's log no longer covers our place. */
  private async catchUp(
    partitionId: number,
    place: Place,
    sealEpoch: number | undefined,
    result: PullResult,
  ): Promise<boolean> {
    // Before the freeze, ask to be fed every later write (a learner): the final pull then
    // finds nothing left to copy.
    const mode =
      sealEpoch === undefined
        ? `&learn=${encodeURIComponent(this.selfId)}&learnerGeneration=${this.store.generation}`
        : `&seal=${sealEpoch}`;
    for (let round = 0; ; round++) {
      const url = `${place.from}/internal/partitions/${partitionId}/changes?generation=${place.generation}&after=${place.seq}${mode}`;
      const response = await this.client.request(url, { retry: false });
      if (response.status === 410) return true;
      if (response.status !== 200) throw remoteError(response.status, response.text());
      const { seq, changes, sealed, learning } = response.json<{
        seq: number;
        changes: Change[];
        sealed?: number;
        learning?: boolean;
      }>();
      const until = sealEpoch === undefined ? undefined : sealed;
      if (sealEpoch !== undefined && until === undefined)
        throw new DdiaError(PartErrors.ownerUnreachable, 'the owner did not answer where it sealed');
      const applied = await this.store.withLock(partitionId, () =>
        this.applyInOrder(partitionId, place, changes),
      );
      result.keysCopied += applied;
      result.bytesCopied += response.body.length;
      if (until !== undefined) {
        if (place.seq >= until) return false;
        if (seq >= until && changes.length === 0) {
          throw new DdiaError(PartErrors.ownerUnreachable, `the owner's log ends before ${until}`);
        }
        continue;
      }
      if (learning === true || changes.length === 0 || round + 1 >= CATCHUP_ROUNDS_MAX) return false;
    }
  }

  /**
   * A change the owner fed this node as its learner (replicas/learners.ts): applied if it follows
   * on from where the copy is, skipped if already here; anything else is refused, which ends
   * the feed (the final pull copies the rest).
   */
  async learn(partitionId: number, sender: { epoch: number; owner: string }, changes: Change[]) {
    const config = await this.machine.waitEpoch(sender.epoch, EPOCH_WAIT_MS).catch(() => {
      throw new DdiaError(PartErrors.notReady, `this node has not applied epoch ${sender.epoch} yet`);
    });
    const partition = config.partitions.find((p) => p.id === partitionId);
    const ownerUrl = config.nodes.find((n) => n.id === sender.owner)?.url;
    if (partition?.target !== this.selfId || partition.owner !== sender.owner || ownerUrl === undefined) {
      throw new DdiaError(
        PartErrors.configRefused,
        `partition ${partitionId} is not moving from ${sender.owner} to ${this.selfId}`,
      );
    }
    return this.store.withLock(partitionId, async () => {
      const place = this.places.get(partitionId);
      if (place?.from !== ownerUrl)
        throw new DdiaError(PartErrors.configRefused, `no copy of partition ${partitionId} in progress`);
      await this.applyInOrder(partitionId, place, changes);
      return { seq: place.seq, generation: this.store.generation };
    });
  }

  /** Where this node's copy of a moving partition is: its process, the owner it copies from,
   *  and the last change it holds (null: no copy in progress). */
  place(partitionId: number): { generation: string; from: string | null; seq: number | null } {
    const place = this.places.get(partitionId);
    return { generation: this.store.generation, from: place?.from ?? null, seq: place?.seq ?? null };
  }

  /** Applies the changes after `place` (a pull's answer and the feed may overlap; both come
   *  from the owner's one numbered log); a gap is refused. The caller holds the store lock. */
  private async applyInOrder(partitionId: number, place: Place, changes: Change[]): Promise<number> {
    const fresh = changes.filter((c) => c.seq > place.seq);
    const first = fresh[0];
    if (!first) return 0;
    if (first.seq !== place.seq + 1) {
      throw new DdiaError(
        PartErrors.configRefused,
        `partition ${partitionId} is at ${place.seq} here; change ${first.seq} leaves a gap`,
      );
    }
    await this.store.applyChanges(partitionId, fresh);
    place.seq = (fresh[fresh.length - 1] as Change).seq;
    return fresh.length;
  }

  forget(partitionId: number): void {
    this.places.delete(partitionId);
  }
}

function remoteError(status: number, body: string): DdiaError {
  return new DdiaError(PartErrors.ownerUnreachable, `the owner answered ${status}: ${body.slice(0, 200)}`);
}
