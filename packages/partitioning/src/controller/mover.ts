// The controller leader's rebalancer: moves each partition whose target differs from its owner,
// while both keep serving (DDIA ch. 6 "Rebalancing Partitions"; 6.5840 shardkv's handoff):
//   1. copy   - the target copies a snapshot of the partition and catches up on its changes;
//               the owner keeps taking reads and writes;
//   2. freeze - a committed config change: the owner stops serving the partition;
//   3. seal   - the target's final pull: the owner waits for in-flight writes and names its
//               final sequence number, and the target catches up to exactly that number;
//   4. finish - a committed config change flips ownership and bumps the epoch.
// The partition takes no requests from the owner's applying the freeze until the flip; the
// owner holds requests meanwhile (http/forwarding.ts). A failure before the flip aborts
// (unfreezes) and the move is tried again later; a new controller leader resumes a frozen
// move from step 3.
import { DdiaError, type HttpClient } from '@ddia/common';
import type { ClusterConfig, ConfigCommand, ConfigResult, PartitionInfo } from '../core/index.js';
import { pendingMoves } from '../core/index.js';
import type { PullResult } from '../data/receiver.js';
import { PartErrors } from '../errors.js';

/** Partitions moved at once. One, as a MongoDB shard takes part in one chunk migration at a time:
 *  parallel moves compete for the same disks and event loops, which lengthens each one's frozen
 *  window, and more of the key space is frozen at once (measured: 4 at once froze each moved
 *  partition for ~730 ms on the loaded machine, 1 at a time ~240-580 ms). */
export const MOVES_PARALLEL_MAX = 1;
/** A copy step may take long for a big partition. */
export const MOVE_STEP_TIMEOUT_MS = 60_000;
/** Wait before a failed move is tried again. */
export const MOVE_RETRY_BACKOFF_MS = 500;

export type MoveStage = 'copying' | 'freezing' | 'sealing' | 'flipping';

export interface MoveProgress {
  partition: number;
  from: string;
  to: string;
  stage: MoveStage;
  startedAtMs: number;
  keysCopied: number;
  bytesCopied: number;
  attempts: number;
  /** Milliseconds spent in each stage so far (the stages from freezing on are the window in
   *  which the partition does not take requests). */
  stageMs: Partial<Record<MoveStage, number>>;
  /** When the current stage began (performance.now()). */
  stageStartedAt: number;
}

/** Closes the current stage's clock and starts `next`'s. */
function enter(progress: MoveProgress, next: MoveStage): void {
  const now = performance.now();
  progress.stageMs[progress.stage] =
    (progress.stageMs[progress.stage] ?? 0) + (now - progress.stageStartedAt);
  progress.stage = next;
  progress.stageStartedAt = now;
}

/** How long the partition was frozen in a finished move: freeze proposed to flip committed. */
export function frozenMs(progress: MoveProgress): number {
  const s = progress.stageMs;
  return (s.freezing ?? 0) + (s.sealing ?? 0) + (s.flipping ?? 0);
}

export interface MoverEnv {
  client: HttpClient;
  config: () => ClusterConfig | null;
  propose: (command: ConfigCommand) => Promise<ConfigResult>;
  isLeader: () => boolean;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  onFinished: (move: MoveProgress, ok: boolean) => void;
  /** Called between a move's copy and its freeze (a test writes in that window). */
  copied?: (partition: number) => Promise<void>;
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
        stageMs: {},
        stageStartedAt: now,
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
        this.count(progress, await this.pull(toUrl, partition.id, fromUrl, config.epoch, false));
        await this.env.copied?.(partition.id);
        enter(progress, 'freezing');
        const freeze = await this.env.propose({ op: 'freeze', partition: partition.id, to });
        if (!freeze.ok) throw new Error(`freeze refused: ${freeze.detail}`);
        frozen = true;
        enter(progress, 'sealing');
        freezeEpoch = freeze.epoch;
      }
      // Seal the owner for this freeze; if the target's process acknowledged every change up to
      // the sealed one (it was fed them), it holds the partition. Else the final pull seals (again,
      // idempotently) and copies up to where the owner sealed.
      if (!(await this.fedToSeal(partition.id, fromUrl, toUrl, to, freezeEpoch))) {
        this.count(progress, await this.pull(toUrl, partition.id, fromUrl, freezeEpoch, true));
      }
      enter(progress, 'flipping');
      const finish = await this.env.propose({ op: 'finish', partition: partition.id, to });
      if (!finish.ok) throw new Error(`finish refused: ${finish.detail}`);
      enter(progress, 'flipping'); // stops the flip's clock: the move is done
      this.env.log.info(
        {
          partition: partition.id,
          from: partition.owner,
          to,
          epoch: finish.epoch,
          stageMs: progress.stageMs,
        },
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

  /** Seals the owner and asks the target where its copy is, at once: true when the target's
   *  current process holds every change up to the sealed one (a restarted target has another
   *  generation and no copy). */
  private async fedToSeal(
    partition: number,
    fromUrl: string,
    toUrl: string,
    to: string,
    epoch: number,
  ): Promise<boolean> {
    const [seal, place] = await Promise.all([
      this.env.client.json<{ sealed: number; learner: { seq: number; generation?: string } | null }>(
        `${fromUrl}/internal/partitions/${partition}/seal`,
        { method: 'POST', body: { epoch, target: to }, deadlineMs: MOVE_STEP_TIMEOUT_MS, retry: false },
      ),
      this.env.client.json<{ generation: string; from: string | null; seq: number | null }>(
        `${toUrl}/internal/partitions/${partition}/place`,
        { deadlineMs: MOVE_STEP_TIMEOUT_MS, retry: false },
      ),
    ]);
    return (
      seal.learner !== null &&
      seal.learner.seq === seal.sealed &&
      seal.learner.generation === place.generation &&
      place.from === fromUrl &&
      place.seq !== null
    );
  }

  private pull(
    toUrl: string,
    partition: number,
    fromUrl: string,
    epoch: number,
    final: boolean,
  ): Promise<PullResult> {
    return this.env.client.json<PullResult>(`${toUrl}/internal/partitions/${partition}/pull`, {
      method: 'POST',
      body: { from: fromUrl, epoch, ...(final ? { final } : {}) },
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
