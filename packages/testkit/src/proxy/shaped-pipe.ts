// One direction of one proxied TCP connection: bytes from `source` reach `sink` late (latency
// with jitter, retransmission timeouts for lost segments), slowly (bandwidth cap) or not at all
// for now (blackhole), always in order.
import type { Socket } from 'node:net';
import type { Random } from '@ddia/common';
import type { PathFaults } from './faults.js';

/** Above this many held bytes the source is paused, so TCP backpressure reaches the sender. */
export const PIPE_HELD_BYTES_MAX = 1024 * 1024;
/** Below this many held bytes a paused source resumes. */
export const PIPE_HELD_BYTES_RESUME = 256 * 1024;
/** Chunks are cut to this size under a bandwidth cap, so delivery is smooth rather than bursty. */
export const SHAPED_SLICE_BYTES = 16 * 1024;
/** Linux's minimum TCP retransmission timeout: what one lost segment costs at least. */
export const TCP_RTO_MIN_MS = 200;
/** Retries before TCP gives up on a segment (Linux's tcp_retries2). */
export const TCP_RETRIES_MAX = 15;

/**
 * Extra delay of one chunk on a lossy path: each lost transmission costs a retransmission
 * timeout (at least 200 ms, or about one round trip on a slow path: twice the one-way delay plus
 * its jitter), doubling per retry, as TCP's exponential backoff does.
 */
export function lossDelayMs(f: PathFaults, random: Random): number {
  const lossPct = f.lossPct ?? 0;
  if (lossPct <= 0) return 0;
  let rto = Math.max(TCP_RTO_MIN_MS, 2 * (f.latencyMs + f.jitterMs));
  let extra = 0;
  for (let retry = 0; retry < TCP_RETRIES_MAX && random.next() * 100 < lossPct; retry++) {
    extra += rto;
    rto *= 2;
  }
  return extra;
}

/**
 * The wire one direction of a link sends on. Every connection over that direction shares it,
 * so a bandwidth cap limits the link as a whole, as it would on a real line.
 */
export interface Line {
  /** When the last slice queued on this line finishes transmitting. */
  sentEndMs: number;
}

interface HeldChunk {
  dueMs: number;
  /** null marks the source's end (a TCP FIN), which must follow the bytes before it. */
  chunk: Buffer | null;
}

export class ShapedPipe {
  private readonly held: HeldChunk[] = [];
  private heldBytes = 0;
  private lastDueMs = 0;
  private timer: NodeJS.Timeout | null = null;
  private awaitingDrain = false;
  private sink: Socket | null = null;
  private closed = false;

  constructor(
    private readonly source: Socket,
    private readonly faults: () => PathFaults,
    private readonly random: Random,
    private readonly line: Line = { sentEndMs: 0 },
    private readonly nowMs: () => number = () => performance.now(),
  ) {}

  /** Where bytes go; the pipe holds everything until a sink is attached. */
  attach(sink: Socket): void {
    this.sink = sink;
    this.pump();
  }

  push(chunk: Buffer): void {
    if (this.closed) return;
    const f = this.faults();
    const now = this.nowMs();
    if (f.bytesPerSecMax === null) {
      this.enqueue(chunk, now, f);
    } else {
      for (let off = 0; off < chunk.length; off += SHAPED_SLICE_BYTES) {
        this.enqueue(chunk.subarray(off, off + SHAPED_SLICE_BYTES), now, f);
      }
    }
    if (this.heldBytes > PIPE_HELD_BYTES_MAX && !this.source.isPaused()) this.source.pause();
    this.pump();
  }

  end(): void {
    if (this.closed) return;
    this.held.push({ dueMs: this.lastDueMs, chunk: null });
    this.pump();
  }

  /** Called when faults change: a lifted blackhole releases what was held. */
  kick(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.pump();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.held.length = 0;
    this.heldBytes = 0;
  }

  get bytesHeld(): number {
    return this.heldBytes;
  }

  private enqueue(slice: Buffer, now: number, f: PathFaults): void {
    // A link is a serial line: a slice finishes transmitting after the previous one did, at the
    // capped rate, then travels for the (jittered) latency. Delivery never overtakes an earlier
    // slice, because TCP delivers bytes in order.
    let sentEndMs = now;
    if (f.bytesPerSecMax !== null) {
      sentEndMs = Math.max(now, this.line.sentEndMs) + (slice.length * 1000) / f.bytesPerSecMax;
      this.line.sentEndMs = sentEndMs;
    }
    const jitter = f.jitterMs > 0 ? (this.random.next() * 2 - 1) * f.jitterMs : 0;
    const delayMs = Math.max(0, f.latencyMs + jitter) + lossDelayMs(f, this.random);
    const dueMs = Math.max(sentEndMs + delayMs, this.lastDueMs);
    this.lastDueMs = dueMs;
    this.held.push({ dueMs, chunk: slice });
    this.heldBytes += slice.length;
  }

  private pump(): void {
    if (this.closed || this.timer || this.awaitingDrain || !this.sink) return;
    if (this.faults().mode !== 'pass') return;
    const sink = this.sink;
    while (this.held.length > 0) {
      const head = this.held[0]!;
      const waitMs = head.dueMs - this.nowMs();
      if (waitMs > 0) {
        this.timer = setTimeout(() => {
          this.timer = null;
          this.pump();
        }, Math.ceil(waitMs));
        return;
      }
      this.held.shift();
      if (head.chunk === null) {
        sink.end();
        continue;
      }
      this.heldBytes -= head.chunk.length;
      if (!sink.write(head.chunk)) {
        this.awaitingDrain = true;
        sink.once('drain', () => {
          this.awaitingDrain = false;
          this.pump();
        });
        break;
      }
    }
    if (this.heldBytes < PIPE_HELD_BYTES_RESUME && this.source.isPaused() && !this.source.destroyed) {
      this.source.resume();
    }
  }
}
