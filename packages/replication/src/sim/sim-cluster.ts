// A whole cluster of pure cores in one process (TigerBeetle's VOPR, in miniature): a virtual
// clock, a seeded network, crashes that keep only what a node persisted, clock skew per node.
// Every mode's simulation drives its cores through this one harness.
import type { Clock, Random } from '@ddia/common/core';
import type { Ready, RequestResult } from '../core/ready.js';
import { EventQueue } from './event-queue.js';
import type { SimNetwork } from './sim-network.js';

export interface SimCore<M, Req, P> {
  request(requestId: number, request: Req): void;
  step(from: string, msg: M): void;
  tick(): void;
  drain(): Ready<M, P>;
  restore(record: P): void;
}

type SimEvent<M> =
  | { kind: 'deliver'; from: string; to: string; msg: M }
  | { kind: 'tick'; node: string }
  | { kind: 'call'; what: string; fn: () => void };

/** Wall clocks start here (any fixed instant: runs must not depend on the real date). */
export const SIM_WALL_EPOCH_MS = 1_700_000_000_000;

export class SimCluster<M extends { type: string }, Req, P> {
  nowMs = 0;
  readonly cores = new Map<string, SimCore<M, Req, P> | null>();
  /** What each node persisted, in order: all that survives a crash. */
  readonly disks = new Map<string, P[]>();
  readonly skewMs = new Map<string, number>();
  readonly trace: string[] = [];
  traceHash = 0x811c9dc5;
  crashes = 0;
  private readonly queue = new EventQueue<SimEvent<M>>();
  private readonly waiting = new Map<
    number,
    { node: string; done: (result: RequestResult | undefined) => void }
  >();
  private nextRequestId = 1;

  constructor(
    readonly ids: readonly string[],
    private readonly makeCore: (id: string, clock: Clock) => SimCore<M, Req, P>,
    readonly network: SimNetwork,
    readonly random: Random,
    private readonly tickMs: number,
    private readonly keepTrace = false,
  ) {
    for (const id of ids) {
      this.disks.set(id, []);
      this.skewMs.set(id, 0);
      this.cores.set(id, makeCore(id, this.clockFor(id)));
      this.queue.push(random.int(0, tickMs - 1), { kind: 'tick', node: id });
    }
  }

  clockFor(id: string): Clock {
    return {
      nowMs: () => this.nowMs,
      wallMs: () => SIM_WALL_EPOCH_MS + this.nowMs + (this.skewMs.get(id) ?? 0),
    };
  }

  core(id: string): SimCore<M, Req, P> | null {
    return this.cores.get(id) ?? null;
  }

  up(id: string): boolean {
    return this.cores.get(id) !== null;
  }

  /** A client request to `node`; `done` gets the answer, or undefined if the node crashed first. */
  submit(node: string, request: Req, done: (result: RequestResult | undefined) => void): void {
    const core = this.cores.get(node);
    if (!core) {
      done(undefined);
      return;
    }
    const requestId = this.nextRequestId++;
    this.waiting.set(requestId, { node, done });
    core.request(requestId, request);
    this.flush(node);
  }

  at(delayMs: number, what: string, fn: () => void): void {
    this.queue.push(this.nowMs + delayMs, { kind: 'call', what, fn });
  }

  crash(id: string): void {
    if (!this.cores.get(id)) return;
    this.crashes++;
    this.cores.set(id, null);
    this.note(`crash ${id}`);
    for (const [requestId, waiter] of [...this.waiting]) {
      if (waiter.node !== id) continue;
      this.waiting.delete(requestId);
      waiter.done(undefined);
    }
  }

  restart(id: string): void {
    if (this.cores.get(id)) return;
    const core = this.makeCore(id, this.clockFor(id));
    for (const record of this.disks.get(id) ?? []) core.restore(record);
    this.cores.set(id, core);
    this.note(`restart ${id}`);
  }

  runUntil(endMs: number, stop?: () => boolean): void {
    for (;;) {
      const next = this.queue.peekMs();
      if (next === undefined || next > endMs) break;
      if (stop?.()) return;
      const item = this.queue.pop()!;
      this.nowMs = item.atMs;
      this.handle(item.event);
    }
    this.nowMs = Math.max(this.nowMs, endMs);
  }

  private handle(event: SimEvent<M>): void {
    switch (event.kind) {
      case 'tick': {
        this.queue.push(this.nowMs + this.tickMs, event);
        const core = this.cores.get(event.node);
        if (!core) return;
        core.tick();
        this.flush(event.node);
        return;
      }
      case 'deliver': {
        const core = this.cores.get(event.to);
        this.note(`${event.from}>${event.to} ${event.msg.type}`);
        if (!core) return;
        core.step(event.from, event.msg);
        this.flush(event.to);
        return;
      }
      case 'call':
        this.note(event.what);
        event.fn();
        return;
    }
  }

  /** Carries out a node's Ready: persist, then send, then answer (the driver's order). */
  private flush(id: string): void {
    const core = this.cores.get(id);
    if (!core) return;
    const ready = core.drain();
    this.disks.get(id)?.push(...ready.persist);
    for (const { to, msg } of ready.messages) {
      for (const delayMs of this.network.fate(id, to)) {
        // Messages are copied as a wire would: no shared objects between nodes.
        this.queue.push(this.nowMs + delayMs, { kind: 'deliver', from: id, to, msg: structuredClone(msg) });
      }
    }
    for (const reply of ready.replies) {
      const waiter = this.waiting.get(reply.requestId);
      if (!waiter) continue;
      this.waiting.delete(reply.requestId);
      waiter.done(structuredClone(reply.result));
    }
  }

  private note(line: string): void {
    const entry = `${this.nowMs} ${line}`;
    for (let i = 0; i < entry.length; i++)
      this.traceHash = Math.imul(this.traceHash ^ entry.charCodeAt(i), 0x01000193) >>> 0;
    if (this.keepTrace) this.trace.push(entry);
  }
}
