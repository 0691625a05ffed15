// The controller leader's rebalancer: moves each partition whose target differs from its owner,
// while both keep serving (DDIA ch. 6 "Rebalancing Partitions"; 6.5840 shardkv's handoff):
//   1. copy   - the target copies a snapshot of the partition and catches up on its changes;
//               the owner keeps taking reads and writes;
//   2. freeze - a committed config change: the owner stops serving the partition;
//   3. seal   - the owner waits for in-flight writes and answers its final sequence number;
//   4. catch up to exactly that number on the target;
//   5. finish - a committed config change flips ownership and bumps the epoch.
// Clients see the partition unavailable (a retriable 503) only during steps 3-5. A failure
// before the flip aborts (unfreezes) and the move is tried again later; a new controller
// leader resumes a frozen move from step 3.
import { DdiaError, type HttpClient } from '@ddia/common';
import type { ClusterConfig, ConfigCommand, ConfigResult, PartitionInfo } from '../core/index.js';
import { pendingMoves } from '../core/index.js';
import type { PullResult } from '../data/receiver.js';
import { PartErrors } from '../errors.js';

/** Partitions copied at once; more would compete with client traffic on a small machine. */
export const MOVES_PARALLEL_MAX = 4;
/** A copy step may take long for a big partition. */
export const MOVE_STEP_TIMEOUT_MS = 60_000;
/** Wait before a failed move is tried again. */
export const MOVE_RETRY_BACKOFF_MS = 500;

export type MoveStage = 'copying' | 'freezing' | 'sealing' | 'catching-up' | 'flipping';

export interface MoveProgress {
  partition: number;
  from: string;
  to: string;
  stage: MoveStage;
  startedAtMs: number;
  keysCopied: number;
  bytesCopied: number;
  attempts: number;
}

export interface MoverEnv {
  client: HttpClient;
  config: () => ClusterConfig | null;
  propose: (command: ConfigCommand) => Promise<ConfigResult>;
  isLeader: () => boolean;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  onFinished: (move: MoveProgress, ok: boolean) => void;
}

export class Mover {
  readonly inProgress = new Map<number, MoveProgress>();
  private readonly retryAfter = new Map<number, number>();
  private readonly attempts = new Map<number, number>();

  constructor(private readonly env: MoverEnv) {}

  /** Starts moves for pending partitions, up to the parallel limit. Called on each tick. */
  tick(): void {
    const config = this.env.config();
    if (!config || !this.env.isLeader()) return;
    const now = performance.now();
    for (const partition of pendingMoves(config)) {
      if (this.inProgress.size >= MOVES_PARALLEL_MAX) break;
      if (this.inProgress.has(partition.id) || (this.retryAfter.get(partition.id) ?? 0) > now) continue;
      const attempts = (this.attempts.get(partition.id) ?? 0) + 1;
      this.attempts.set(partition.id, attempts);
      const progress: MoveProgress = {
        partition: partition.id,
        from: partition.owner,
        to: partition.target,
        stage: partition.frozen ? 'sealing' : 'copying',
        startedAtMs: Date.now(),
        keysCopied: 0,
        bytesCopied: 0,
        attempts,
      };
      this.inProgress.set(partition.id, progress);
      void this.move(partition, progress).then(
        () => {
          this.inProgress.delete(partition.id);
          this.attempts.delete(partition.id);
          this.env.onFinished(progress, true);
        },
        (error: unknown) => {
          this.inProgress.delete(partition.id);
          this.retryAfter.set(partition.id, performance.now() + MOVE_RETRY_BACKOFF_MS);
          this.env.log.warn(
            { err: error, partition: partition.id, stage: progress.stage },
            'move failed; will retry',
          );
          this.env.onFinished(progress, false);
        },
      );
    }
  }

  private async move(partition: PartitionInfo, progress: MoveProgress): Promise<void> {
    const config = this.env.config() as ClusterConfig;
    const urlOf = (id: string) => {
      const node = config.nodes.find((n) => n.id === id);
      if (!node) throw new Error(`node ${id} is not in the configuration`);
      return node.url;
    };
    const fromUrl = urlOf(partition.owner);
    const toUrl = urlOf(partition.target);
    const to = partition.target;
    let frozen = partition.frozen;
    let freezeEpoch = config.epoch;
    try {
      if (!frozen) {
        this.count(progress, await this.pull(toUrl, partition.id, fromUrl, config.epoch, undefined));
        progress.stage = 'freezing';
        const freeze = await this.env.propose({ op: 'freeze', partition: partition.id, to });
        if (!freeze.ok) throw new Error(`freeze refused: ${freeze.detail}`);
        frozen = true;
        progress.stage = 'sealing';
        freezeEpoch = freeze.epoch;
      }
      const sealed = await this.env.client.json<{ seq: number }>(
        `${fromUrl}/internal/partitions/${partition.id}/seal`,
        {
          method: 'POST',
          body: { epoch: freezeEpoch },
          deadlineMs: MOVE_STEP_TIMEOUT_MS,
          retry: false,
        },
      );
      progress.stage = 'catching-up';
      this.count(progress, await this.pull(toUrl, partition.id, fromUrl, freezeEpoch, sealed.seq));
      progress.stage = 'flipping';
      const finish = await this.env.propose({ op: 'finish', partition: partition.id, to });
      if (!finish.ok) throw new Error(`finish refused: ${finish.detail}`);
      this.env.log.info(
        { partition: partition.id, from: partition.owner, to, epoch: finish.epoch },
        'partition moved',
      );
    } catch (error) {
      // Before the flip nothing is lost by unfreezing: the owner still has every write.
      if (frozen && this.env.isLeader()) {
        await this.env.propose({ op: 'abort', partition: partition.id }).catch(() => undefined);
      }
      throw error;
    }
  }

  private pull(
    toUrl: string,
    partition: number,
    fromUrl: string,
    epoch: number,
    until: number | undefined,
  ): Promise<PullResult> {
    return this.env.client.json<PullResult>(`${toUrl}/internal/partitions/${partition}/pull`, {
      method: 'POST',
      body: { from: fromUrl, epoch, ...(until === undefined ? {} : { until }) },
      deadlineMs: MOVE_STEP_TIMEOUT_MS,
      retry: false,
    });
  }

  private count(progress: MoveProgress, result: PullResult): void {
    progress.keysCopied += result.keysCopied;
    progress.bytesCopied += result.bytesCopied;
  }
}

export function notLeaderError(): DdiaError {
  return new DdiaError(PartErrors.noController, 'this node does not lead the controller group');
}
