// Two-phase commit coordinator (DDIA ch. 9 "Atomic commit and two-phase commit"; Gray &
// Reuter). Phase 1 asks every participant to prepare (make its writes durable and promise
// to commit if asked); once all said yes, the decision to commit is written to the
// coordinator's durable decision log: that write is the commit point. Phase 2 tells every
// participant, retrying until each has applied it. No decision in the log means abort
// ("presumed abort"), so aborts need not be logged.
//
// The price (DDIA: "Coordinator failure"): a participant that voted yes cannot decide on
// its own. If the coordinator dies after the prepares and before phase 2 reaches it, the
// participant holds the transaction's locks, in doubt, until the coordinator recovers.

import type { TraceContext } from '@ddia/common';
import type { Isolation } from '../engine/transaction.js';
import { isNotFound, type Participant } from './participant.js';

export type DecisionRecord =
  /** Written at each start: global ids carry the epoch, so no restart reuses one. */
  | { type: 'epoch'; epoch: number }
  | { type: 'commit'; gid: string; participants: string[] }
  | { type: 'done'; gid: string };

/** Where decisions go; append resolves once durable. */
export interface DecisionLog {
  append(record: DecisionRecord): Promise<void>;
}

/** Named points in the protocol where a chaos hook may crash the coordinator. */
export const CHAOS_POINTS = [
  'after-execute',
  'after-first-prepare',
  'after-prepares',
  'after-decision',
  'after-first-commit',
] as const;
export type ChaosPoint = (typeof CHAOS_POINTS)[number];

export interface ShardWork {
  participant: string;
  /** The statements of this shard's part of the transaction. */
  run(p: Participant, tx: number, gid: string): Promise<void>;
}

export interface TwoPhaseOutcome {
  gid: string;
  committed: boolean;
  reason?: string;
}

export class Coordinator {
  private readonly committed = new Map<string, string[]>();
  private readonly inFlight = new Set<string>();
  private nextSeq = 1;
  private epoch = 0;

  constructor(
    readonly id: string,
    private readonly participants: Map<string, Participant>,
    private readonly log: DecisionLog,
    private readonly chaos: (point: ChaosPoint) => Promise<void> = async () => {},
    readonly isolation: Isolation = 'repeatable-read',
  ) {}

  /** Rebuilds the decisions from the log: commits without a "done" must be (re)delivered. */
  restore(records: Iterable<DecisionRecord>): void {
    for (const r of records) {
      if (r.type === 'epoch') this.epoch = Math.max(this.epoch, r.epoch);
      else if (r.type === 'commit') this.committed.set(r.gid, r.participants);
      else this.committed.delete(r.gid);
    }
  }

  /** Begins a new epoch (durably) after restore; call before running transactions. */
  async start(): Promise<void> {
    this.epoch++;
    this.nextSeq = 1;
    await this.log.append({ type: 'epoch', epoch: this.epoch });
  }

  /** Decisions logged but not yet known to be applied everywhere. */
  pendingDecisions(): string[] {
    return [...this.committed.keys()];
  }

  /** Runs a distributed transaction; `trace` is the request it serves (its calls join it). */
  async run(work: ShardWork[], trace?: TraceContext): Promise<TwoPhaseOutcome> {
    const gid = `${this.id}-e${this.epoch}-${this.nextSeq++}`;
    this.inFlight.add(gid);
    const opened = new Map<string, number>();
    const prepared = new Set<string>();
    try {
      try {
        // One local transaction per participant, however many pieces of work it gets.
        for (const w of work) {
          const p = this.participant(w.participant, trace);
          let tx = opened.get(w.participant);
          if (tx === undefined) {
            tx = await p.begin(this.isolation);
            opened.set(w.participant, tx);
          }
          await w.run(p, tx, gid);
        }
        await this.chaos('after-execute');
        for (const [name, tx] of opened) {
          await this.participant(name, trace).prepare(tx, gid);
          prepared.add(name);
          if (prepared.size === 1) await this.chaos('after-first-prepare');
        }
        await this.chaos('after-prepares');
      } catch (e) {
        // Presumed abort: nothing logged; undo what each participant has.
        await this.abortEverywhere(gid, opened, prepared, trace);
        return { gid, committed: false, reason: (e as Error).message };
      }
      const names = [...opened.keys()];
      await this.log.append({ type: 'commit', gid, participants: names });
      this.committed.set(gid, names);
      await this.chaos('after-decision');
      try {
        await this.deliver(gid, names, true, trace);
      } catch (e) {
        // Committed all the same: the decision is durable, recover() finishes delivery.
        return { gid, committed: true, reason: `delivery pending: ${(e as Error).message}` };
      }
      return { gid, committed: true };
    } finally {
      this.inFlight.delete(gid);
    }
  }

  /**
   * Resolves in-doubt transactions: redelivers logged commits, and rolls back prepared
   * transactions of ours that have no commit decision (presumed abort). Returns how many
   * it resolved; participants that are down are skipped and retried on the next call.
   */
  async recover(): Promise<number> {
    let resolved = 0;
    for (const [gid, names] of [...this.committed]) {
      try {
        await this.deliver(gid, names, false);
        resolved++;
      } catch {
        // A participant is down: try again later.
      }
    }
    for (const p of this.participants.values()) {
      let ids: string[];
      try {
        ids = await p.listPrepared();
      } catch {
        continue;
      }
      for (const gid of ids) {
        if (!gid.startsWith(`${this.id}-e`) || this.inFlight.has(gid) || this.committed.has(gid)) continue;
        try {
          await p.rollbackPrepared(gid);
          resolved++;
        } catch {
          // Gone already, or the participant is down: the next round tries again.
        }
      }
    }
    return resolved;
  }

  private async deliver(
    gid: string,
    names: string[],
    firstTime: boolean,
    trace?: TraceContext,
  ): Promise<void> {
    let delivered = 0;
    for (const name of names) {
      try {
        await this.participant(name, trace).commitPrepared(gid);
      } catch (e) {
        // Already committed there before a crash: the decision is applied.
        if (!isNotFound(e)) throw e;
      }
      delivered++;
      if (firstTime && delivered === 1) await this.chaos('after-first-commit');
    }
    await this.log.append({ type: 'done', gid });
    this.committed.delete(gid);
  }

  private async abortEverywhere(
    gid: string,
    opened: Map<string, number>,
    prepared: Set<string>,
    trace?: TraceContext,
  ) {
    for (const [name, tx] of opened) {
      try {
        const p = this.participant(name, trace);
        if (prepared.has(name)) await p.rollbackPrepared(gid);
        else await p.rollback(tx);
      } catch {
        // Down or already aborted: its idle timeout or recover() will clean up.
      }
    }
  }

  private participant(name: string, trace?: TraceContext): Participant {
    const p = this.participants.get(name);
    if (!p) throw new Error(`unknown participant ${name}`);
    return trace && p.withTrace ? p.withTrace(trace) : p;
  }
}
