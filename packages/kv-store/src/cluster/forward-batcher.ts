// The follower's side of write forwarding: writes queued in one event-loop turn travel to the
// leader in ONE internal request (format: forward-batch.ts, FORMAT.md §4), and each waiting
// client request gets its own command's result back. Batching across requests is what Raft
// implementations do on the hot path (etcd batches MsgProp and appends; the Raft dissertation
// §10.2.1 batches and pipelines) — here it removes one HTTP request per forwarded write.

import {
  CommonErrors,
  DdiaError,
  type HttpClient,
  type HttpResponse,
  HttpTimeoutError,
  HttpUnavailableError,
} from '@ddia/common';
import { KvErrors } from '../errors.js';
import {
  encodeForwardBatch,
  FORWARD_BATCH_BYTES_TARGET,
  FORWARD_BATCH_COMMANDS_MAX,
  FORWARD_CONTENT_TYPE,
  FORWARD_PATH,
  type ForwardBatchAnswer,
  ForwardBatchFormatError,
  type ForwardResult,
  parseForwardBatchAnswer,
} from './forward-batch.js';
import { RETRY } from './router.js';

/**
 * Batches in flight to one leader at once. Each waits for its commands to commit, so one at a
 * time would stall new writes behind a commit round; more than a few only splits load that the
 * next batch would have carried anyway.
 */
export const FORWARD_BATCHES_IN_FLIGHT_MAX = 4;
/** Writes waiting to be forwarded, per leader; beyond it a write is refused (429, not applied). */
export const FORWARD_QUEUE_COMMANDS_MAX = 16 * FORWARD_BATCH_COMMANDS_MAX;

/** What a forwarded write comes back with: the leader's result, or RETRY (not applied). */
export type ForwardAnswer = { result: ForwardResult; term: number; leaderId: string | null } | typeof RETRY;

interface Pending {
  command: Uint8Array;
  /** Absolute, on performance.now(). */
  deadlineAt: number;
  settled: boolean;
  resolve: (answer: ForwardAnswer) => void;
  reject: (error: Error) => void;
}

interface LeaderQueue {
  pending: Pending[];
  inFlight: number;
  flushScheduled: boolean;
}

export interface ForwardBatcherOptions {
  /** The service's one HTTP client (keep-alive pool per origin). */
  client: HttpClient;
  /** Counts each batch sent and the writes in it (kv_forward_batches_total, kv_forwarded_writes_total). */
  onBatchSent?: (commands: number) => void;
  batchesInFlightMax?: number;
}

export class ForwardBatcher {
  private readonly queues = new Map<string, LeaderQueue>();
  private readonly batchesInFlightMax: number;

  constructor(private readonly options: ForwardBatcherOptions) {
    this.batchesInFlightMax = options.batchesInFlightMax ?? FORWARD_BATCHES_IN_FLIGHT_MAX;
  }

  /**
   * Queues one encoded write for the leader at `leaderUrl`; it leaves with everything else queued
   * in this event-loop turn. Rejects with KvErrors.outcomeUnknown when the batch was sent but no
   * answer came by the write's deadline (it may have been applied, as for a single forward).
   */
  forward(leaderUrl: string, command: Uint8Array, remainingMs: number): Promise<ForwardAnswer> {
    let queue = this.queues.get(leaderUrl);
    if (!queue) {
      queue = { pending: [], inFlight: 0, flushScheduled: false };
      this.queues.set(leaderUrl, queue);
    }
    if (queue.pending.length >= FORWARD_QUEUE_COMMANDS_MAX) {
      return Promise.reject(
        new DdiaError(
          CommonErrors.tooManyRequests,
          `${queue.pending.length} writes are already waiting for the leader; not applied`,
        ),
      );
    }
    const promise = new Promise<ForwardAnswer>((resolve, reject) => {
      queue.pending.push({
        command,
        deadlineAt: performance.now() + remainingMs,
        settled: false,
        resolve,
        reject,
      });
    });
    this.schedule(leaderUrl, queue);
    return promise;
  }

  private schedule(leaderUrl: string, queue: LeaderQueue): void {
    if (queue.flushScheduled) return;
    queue.flushScheduled = true;
    // setImmediate runs after the I/O callbacks of this turn: every request parsed from the
    // sockets that were readable together joins the same batch.
    setImmediate(() => {
      queue.flushScheduled = false;
      this.flush(leaderUrl, queue);
    });
  }

  private flush(leaderUrl: string, queue: LeaderQueue): void {
    while (queue.pending.length > 0 && queue.inFlight < this.batchesInFlightMax) {
      const batch: Pending[] = [];
      let bytes = 0;
      while (batch.length < FORWARD_BATCH_COMMANDS_MAX && queue.pending.length > 0) {
        const next = queue.pending[0] as Pending;
        if (batch.length > 0 && bytes + next.command.length > FORWARD_BATCH_BYTES_TARGET) break;
        queue.pending.shift();
        bytes += next.command.length;
        batch.push(next);
      }
      queue.inFlight++;
      void this.send(leaderUrl, batch).finally(() => {
        queue.inFlight--;
        // Writes that queued while every slot was busy leave now, as one bigger batch.
        if (queue.pending.length > 0) this.schedule(leaderUrl, queue);
        else if (queue.inFlight === 0) this.queues.delete(leaderUrl);
      });
    }
  }

  private async send(leaderUrl: string, batch: Pending[]): Promise<void> {
    const now = performance.now();
    const live: Pending[] = [];
    for (const entry of batch) {
      // Too little time left to be worth sending: the router sees RETRY and then its deadline.
      if (entry.deadlineAt - now < 1) settle(entry, RETRY);
      else live.push(entry);
    }
    if (live.length === 0) return;
    const body = encodeForwardBatch(
      live.map((e) => ({ deadlineMs: Math.floor(e.deadlineAt - now), command: e.command })),
    );
    this.options.onBatchSent?.(live.length);
    const expiry = expireAtDeadlines(live);
    try {
      let response: HttpResponse;
      try {
        response = await this.options.client.request(`${leaderUrl}${FORWARD_PATH}`, {
          method: 'POST',
          headers: { 'content-type': FORWARD_CONTENT_TYPE },
          body,
          deadlineMs: Math.max(...live.map((e) => e.deadlineAt)) - now,
          retry: false,
        });
      } catch (error) {
        if (isConnectionRefused(error)) return settleAll(live, RETRY);
        if (error instanceof HttpTimeoutError || error instanceof HttpUnavailableError) {
          return failAll(
            live,
            new DdiaError(KvErrors.outcomeUnknown, `forwarding to the leader failed: ${error.message}`),
          );
        }
        throw error;
      }
      if (response.status !== 200) return answerBatchProblem(live, response);
      let answer: ForwardBatchAnswer;
      try {
        answer = parseForwardBatchAnswer(response.body, live.length);
      } catch (error) {
        if (!(error instanceof ForwardBatchFormatError)) throw error;
        return failAll(
          live,
          new DdiaError(KvErrors.outcomeUnknown, `the leader's answer was unreadable: ${error.message}`),
        );
      }
      live.forEach((entry, i) => {
        const result = answer.results[i] as ForwardResult;
        settle(entry, 'retry' in result ? RETRY : { result, term: answer.term, leaderId: answer.leaderId });
      });
    } catch (error) {
      failAll(live, error as Error);
    } finally {
      expiry.cancel();
    }
  }
}

/** True when the connection was refused, so the request was never sent: safe to retry. */
export function isConnectionRefused(error: unknown): boolean {
  if (!(error instanceof HttpUnavailableError)) return false;
  const cause = error.cause as { code?: string; message?: string } | undefined;
  return /ECONNREFUSED/.test(String(cause?.code ?? cause?.message));
}

/**
 * A batch is answered when its slowest command is done, but each client waits only until its
 * own deadline: then its write was sent and unanswered, so the outcome is unknown (504).
 */
function expireAtDeadlines(live: Pending[]): { cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    const open = live.filter((e) => !e.settled);
    if (open.length === 0) return;
    const first = Math.min(...open.map((e) => e.deadlineAt));
    timer = setTimeout(
      () => {
        const now = performance.now();
        for (const entry of open) {
          if (entry.deadlineAt <= now) {
            fail(
              entry,
              new DdiaError(KvErrors.outcomeUnknown, 'the leader did not answer within the deadline'),
            );
          }
        }
        arm();
      },
      Math.max(0, first - performance.now()),
    );
  };
  arm();
  return {
    cancel: () => {
      if (timer) clearTimeout(timer);
    },
  };
}

/** A non-200 answer concerns the whole batch: nothing in it was proposed (FORMAT.md §4). */
function answerBatchProblem(live: Pending[], response: HttpResponse): void {
  let problem: { code?: string; title?: string; detail?: string; retriable?: boolean } = {};
  try {
    problem = (JSON.parse(response.body.toString('utf8')) ?? {}) as typeof problem;
  } catch {
    // Not problem+json (a proxy, a crash): handled below by status alone.
  }
  if (problem.code === KvErrors.notLeader.code) {
    settleAll(live, RETRY);
    return;
  }
  if (response.status >= 500 && response.status !== 503) {
    failAll(
      live,
      new DdiaError(KvErrors.outcomeUnknown, `the leader answered ${response.status} to a forwarded batch`),
    );
    return;
  }
  failAll(
    live,
    new DdiaError(
      {
        code: problem.code ?? 'DDIA_ERR_KV_FORWARD_FAILED',
        status: response.status,
        title: problem.title ?? 'Forwarding to the leader failed',
        retriable: problem.retriable ?? response.status === 503,
      },
      problem.detail ?? `the leader answered ${response.status}`,
    ),
  );
}

function settle(entry: Pending, answer: ForwardAnswer): void {
  if (entry.settled) return;
  entry.settled = true;
  entry.resolve(answer);
}

function fail(entry: Pending, error: Error): void {
  if (entry.settled) return;
  entry.settled = true;
  entry.reject(error);
}

function settleAll(live: Pending[], answer: ForwardAnswer): void {
  for (const entry of live) settle(entry, answer);
}

function failAll(live: Pending[], error: Error): void {
  for (const entry of live) fail(entry, error);
}
