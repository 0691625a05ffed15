// The I/O shell around a pure core (etcd-io/raft's "Ready" loop): it feeds the core client
// requests, peer messages and ticks, and carries out each Ready in the one safe order —
// persist (fsync), then send and answer.
//
// Group commit: a request or a peer frame does not drain the core at once; the drain runs
// once per turn of the event loop (setImmediate, after every socket the poll phase found
// readable has been read), so every write that arrived together becomes one Ready: one journal
// write and fdatasync, one frame per peer, however many clients sent them. The journal queues
// a Ready that comes while a write is in flight behind it (the Log's 'group' policy), and
// delivery waits on a chain, so a Ready's messages and answers never overtake the records of
// an earlier one — except answers the core marks `now` (a standby-confirmed synchronous
// write), which claim nothing still on its way to this disk.
import type { Ready, Reply, RequestResult } from '../core/ready.js';
import type { Journal } from './journal.js';
import type { PeerTransport } from './transport.js';

export interface DrivenCore<M, Req, P> {
  request(requestId: number, request: Req): void;
  step(from: string, msg: M): void;
  tick(): void;
  drain(): Ready<M, P>;
  restore(record: P): void;
  /** Records that rebuild the core's durable state on their own (journal compaction). */
  snapshot(): P[];
}

/** A client request the core never answered (it should always answer: a safety net). */
export const DRIVER_ANSWER_TIMEOUT_MS = 30_000;

export class Driver<M, Req, P> {
  private nextRequestId = 1;
  private readonly waiting = new Map<number, (result: RequestResult) => void>();
  private delivery: Promise<void> = Promise.resolve();
  private ticker: ReturnType<typeof setInterval> | undefined;
  private failed: unknown = null;
  private drainScheduled = false;
  private compacting: Promise<void> | null = null;
  /** Compact the journal once it holds this many records (0: never). */
  private compactAt: number;
  persisted = 0;
  /** Readies carried out, and requests and peer messages fed in (requests per Ready: the batching). */
  readonly stats = { readies: 0, requests: 0, peerMessages: 0, compactions: 0, snapshotRecords: 0 };

  constructor(
    readonly core: DrivenCore<M, Req, P>,
    private readonly journal: Journal<P>,
    private readonly transport: PeerTransport<M>,
    private readonly onFatal: (error: unknown) => void,
    /** Journal records that trigger a compaction (0: never). */
    private readonly compactRecords = 0,
  ) {
    this.compactAt = compactRecords;
  }

  /** Replays the journal into the core (before start). */
  async recover(): Promise<number> {
    let records = 0;
    for await (const record of this.journal.replay()) {
      this.core.restore(record);
      records++;
    }
    return records;
  }

  start(tickMs: number): void {
    this.ticker = setInterval(() => {
      this.core.tick();
      this.flush();
      if (this.compactRecords > 0 && this.journal.records >= this.compactAt) void this.compact();
    }, tickMs);
    this.ticker.unref?.();
  }

  submit(request: Req): Promise<RequestResult> {
    if (this.failed) return Promise.reject(this.failed);
    const requestId = this.nextRequestId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        if (!this.waiting.delete(requestId)) return;
        resolve({ ok: false, error: 'quorumNotReached', detail: 'the node did not answer in time' });
      }, DRIVER_ANSWER_TIMEOUT_MS);
      this.waiting.set(requestId, (result) => {
        clearTimeout(timer);
        resolve(result);
      });
      this.core.request(requestId, request);
      this.stats.requests++;
      this.flushSoon();
    });
  }

  receive(from: string, messages: readonly M[]): void {
    if (this.failed) return;
    for (const msg of messages) this.core.step(from, msg);
    this.stats.peerMessages += messages.length;
    this.flushSoon();
  }

  /** Drains the core once this turn of the event loop has taken in everything that arrived. */
  private flushSoon(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(() => {
      this.drainScheduled = false;
      if (!this.failed) this.flush();
    });
  }

  /** Carries out what the core has ready: persist, then (in order) send and answer. */
  flush(): void {
    const ready = this.core.drain();
    if (ready.persist.length === 0 && ready.messages.length === 0 && ready.replies.length === 0) return;
    const durable = this.journal.append(ready.persist);
    this.persisted += ready.persist.length;
    this.stats.readies++;
    const answer = (reply: Reply) => {
      const waiter = this.waiting.get(reply.requestId);
      if (!waiter) return;
      this.waiting.delete(reply.requestId);
      waiter(reply.result);
    };
    // Answers that claim nothing pending on this disk go at once (core/ready.ts, `now`).
    for (const reply of ready.replies) if (reply.now) answer(reply);
    this.delivery = Promise.all([this.delivery, durable]).then(
      () => {
        this.transport.send(ready.messages);
        for (const reply of ready.replies) if (!reply.now) answer(reply);
      },
      (error: unknown) => this.fail(error),
    );
  }

  /**
   * Snapshot + truncate of the journal. What the core drained so far is queued in the journal
   * before the snapshot, and the snapshot holds the core's state as of now, so it supersedes
   * every record before it. The next compaction waits until the journal has grown past twice
   * the snapshot, so a big state is not rewritten on every tick.
   */
  compact(): Promise<void> {
    if (this.compacting) return this.compacting;
    if (this.failed) return Promise.resolve();
    this.flush();
    const snapshot = this.core.snapshot();
    this.compacting = this.journal
      .compact(snapshot)
      .then(
        () => {
          this.stats.compactions++;
          this.stats.snapshotRecords = snapshot.length;
          this.compactAt = Math.max(this.compactRecords, 2 * snapshot.length);
        },
        (error: unknown) => this.fail(error),
      )
      .finally(() => {
        this.compacting = null;
      });
    return this.compacting;
  }

  /** A failed disk write: nothing the core did since can be trusted; stop serving. */
  private fail(error: unknown): void {
    if (this.failed) return;
    this.failed = error;
    this.stop();
    for (const answer of this.waiting.values())
      answer({ ok: false, error: 'quorumNotReached', detail: `storage failed: ${(error as Error).message}` });
    this.waiting.clear();
    this.onFatal(error);
  }

  stop(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
  }

  /** Waits for every started persist and delivery (shutdown, tests). */
  async settle(): Promise<void> {
    if (this.drainScheduled && !this.failed) this.flush();
    await this.delivery;
    await this.compacting;
  }
}

/** The wall clock with a --chaos skew is common's (service/wall-clock.ts). */
export { SkewableClock } from '@ddia/common';
