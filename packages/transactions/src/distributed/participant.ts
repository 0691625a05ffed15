// What a coordinator needs from a transaction node (a participant that owns one shard).
// HttpParticipant speaks the node's HTTP API; tests also wrap an in-process Database.
import { HttpClient, ProblemError, type TraceContext } from '@ddia/common';
import type { Database } from '../engine/database.js';
import type { Isolation } from '../engine/transaction.js';
import { isTxError, TxErrors } from '../errors.js';

export interface Participant {
  readonly name: string;
  begin(isolation: Isolation): Promise<number>;
  update(tx: number, table: string, where: string, set: Record<string, string>): Promise<number>;
  insert(tx: number, table: string, row: Record<string, unknown>): Promise<number>;
  rollback(tx: number): Promise<void>;
  prepare(tx: number, gid: string): Promise<void>;
  commitPrepared(gid: string): Promise<void>;
  rollbackPrepared(gid: string): Promise<void>;
  listPrepared(): Promise<string[]>;
  /** The same participant, its calls joining `trace` (the request the coordinator serves). */
  withTrace?(trace: TraceContext): Participant;
}

/** No prepared transaction of that id: the decision was applied already (or it never prepared). */
export function isNotFound(e: unknown): boolean {
  return (
    (e instanceof ProblemError && isTxError(e.problem?.code, TxErrors.txNotFound)) ||
    isTxError((e as { code?: string })?.code, TxErrors.txNotFound)
  );
}

/** Deadline for one participant call; a prepared transaction can block others for this long. */
export const PARTICIPANT_DEADLINE_MS = 5_000;

export class HttpParticipant implements Participant {
  constructor(
    readonly name: string,
    readonly url: string,
    private readonly client = new HttpClient({ deadlineMs: PARTICIPANT_DEADLINE_MS, retries: 0 }),
    private readonly trace?: TraceContext,
  ) {}
  withTrace(trace: TraceContext): HttpParticipant {
    return new HttpParticipant(this.name, this.url, this.client, trace);
  }
  private post<T>(path: string, body?: object): Promise<T> {
    return this.client.json<T>(`${this.url}${path}`, {
      method: 'POST',
      body: body ?? {},
      retry: false,
      ...(this.trace ? { trace: this.trace } : {}),
    });
  }
  async begin(isolation: Isolation): Promise<number> {
    return (await this.post<{ id: number }>('/tx', { isolation })).id;
  }
  async update(tx: number, table: string, where: string, set: Record<string, string>): Promise<number> {
    return (await this.post<{ count: number }>(`/tx/${tx}/update`, { table, where, set })).count;
  }
  async insert(tx: number, table: string, row: Record<string, unknown>): Promise<number> {
    return (await this.post<{ count: number }>(`/tx/${tx}/insert`, { table, row })).count;
  }
  async rollback(tx: number): Promise<void> {
    await this.post(`/tx/${tx}/rollback`);
  }
  async prepare(tx: number, gid: string): Promise<void> {
    await this.post(`/tx/${tx}/prepare`, { gid });
  }
  async commitPrepared(gid: string): Promise<void> {
    await this.post(`/prepared/${gid}/commit`);
  }
  async rollbackPrepared(gid: string): Promise<void> {
    await this.post(`/prepared/${gid}/rollback`);
  }
  async listPrepared(): Promise<string[]> {
    return (await this.client.json<{ prepared: string[] }>(`${this.url}/prepared`)).prepared;
  }
}

/** A participant in the same process (simulation tests). */
export class LocalParticipant implements Participant {
  constructor(
    readonly name: string,
    public db: Database,
  ) {}
  begin(isolation: Isolation) {
    return this.db.begin(isolation);
  }
  update(tx: number, table: string, where: string, set: Record<string, string>) {
    return this.db.update(tx, table, where, set);
  }
  insert(tx: number, table: string, row: Record<string, unknown>) {
    return this.db.insert(tx, table, row);
  }
  async rollback(tx: number) {
    this.db.rollback(tx);
  }
  prepare(tx: number, gid: string) {
    return this.db.prepare(tx, gid);
  }
  commitPrepared(gid: string) {
    return this.db.commitPrepared(gid);
  }
  rollbackPrepared(gid: string) {
    return this.db.rollbackPrepared(gid);
  }
  async listPrepared() {
    return this.db.preparedIds();
  }
}
