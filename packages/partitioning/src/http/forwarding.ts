// "Any node forwards" (DDIA ch. 6 "Request Routing", the first of its three options, as in
// Cassandra and Riak): a node that does not own a key's partition sends the request to the
// owner named by its configuration and relays the answer. A request is forwarded at most once:
// the owner that no longer owns it answers 421 naming the owner it knows, and the forwarding
// node, which holds the client's deadline, waits for that epoch and tries again.
// A partition in the middle of its handoff is not refused: the owner holds the request until
// the handoff ends (the next epoch: the flip, or an abort) and then serves it, or forwards it
// once to the new owner, as a MongoDB shard holds writes in a chunk migration's critical
// section. A client then sees the handoff as one slower answer, not as a refusal it must
// retry after a pause.
import { DdiaError, forwardRequest, type HttpClient, relayHeaders } from '@ddia/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ConfigMachine } from '../controller/config-machine.js';
import { PartErrors } from '../errors.js';

/** The request headers that carry a write's meaning: passed on when it is forwarded. */
const FORWARDED_REQUEST_HEADERS = ['content-type', 'if-match', 'if-none-match'] as const;
/** Marks a forwarded request, so it is forwarded at most once. */
export const FORWARDED_HEADER = 'x-part-forwarded-by';
/** Pause between attempts while a partition is frozen or the config is catching up. */
export const ROUTE_RETRY_MS = 25;
/** Longest single wait for the next epoch while the partition is in its handoff: a refusal that
 *  no epoch ends (a split's new half settling) is tried again after this. */
export const HOLD_POLL_MS = 100;
/** How long to wait for an epoch a 421 named before routing again. */
const EPOCH_CATCH_UP_MS = 1_000;
const RELAYED_HEADERS = ['content-type', 'etag', 'x-partition', 'x-epoch', 'x-owner'];
const RETRIED_CODES = new Set<string>([
  PartErrors.moving.code,
  PartErrors.notReady.code,
  PartErrors.wrongOwner.code,
]);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface ForwardOptions {
  client: HttpClient;
  machine: ConfigMachine;
  selfId: string;
  requestTimeoutMs: number;
}

/** What one routing attempt did: answered here (the reply is sent), or names the owner.
 *  (A FastifyReply is never passed through a promise: it is a thenable that resolves to
 *  nothing once sent.) */
export const SENT = 'sent' as const;
export type Routed = typeof SENT | { forwardTo: string; path?: string };
/** `mayForward`: false when the request came from another node or a partition-aware client
 *  and was not held here (it goes back with a 421 naming the owner). */
export type Attempt = (mayForward: boolean) => Promise<Routed>;

export function isForwarded(request: FastifyRequest): boolean {
  return typeof request.headers[FORWARDED_HEADER] === 'string';
}

/**
 * Runs `attempt` until it answers or the deadline passes. `attempt` either serves locally
 * (returns the reply) or names the owner's URL to forward to.
 */
export async function routeRequest(
  options: ForwardOptions,
  request: FastifyRequest,
  reply: FastifyReply,
  mutates: boolean,
  attempt: Attempt,
): Promise<FastifyReply> {
  const deadlineAt = performance.now() + options.requestTimeoutMs;
  const forwarded = isForwarded(request);
  // Held through a handoff here: this node answers for the request, forwarding it if need be.
  let held = false;
  for (;;) {
    const remainingMs = deadlineAt - performance.now();
    try {
      const outcome = await attempt(!forwarded || held);
      if (outcome === SENT) return reply;
      const relayed = await forwardOnce(
        options,
        request,
        reply,
        `${outcome.forwardTo}${outcome.path ?? request.url}`,
        remainingMs,
        mutates,
      );
      if (relayed) return reply;
    } catch (error) {
      if (!(error instanceof DdiaError) || !RETRIED_CODES.has(error.code)) throw error;
      if (remainingMs <= ROUTE_RETRY_MS) throw error;
      if (error.code === PartErrors.moving.code) {
        held = true;
        const epoch = options.machine.config?.epoch ?? 0;
        const waitMs = Math.min(HOLD_POLL_MS, remainingMs - ROUTE_RETRY_MS);
        await options.machine.waitEpoch(epoch + 1, waitMs).catch(() => undefined);
        continue;
      }
      // Other refusals of a forwarded request go back at once to the node or client that sent
      // it, which holds the client's deadline.
      if (forwarded && !held) throw error;
    }
    if (deadlineAt - performance.now() <= ROUTE_RETRY_MS) {
      throw new DdiaError(
        PartErrors.ownerUnreachable,
        'the owner did not take the request within the deadline',
      );
    }
    await sleep(ROUTE_RETRY_MS);
  }
}

/** Sends the request to the owner; false when the owner refused it retriably (try again). */
async function forwardOnce(
  options: ForwardOptions,
  request: FastifyRequest,
  reply: FastifyReply,
  targetUrl: string,
  remainingMs: number,
  mutates: boolean,
): Promise<boolean> {
  const response = await forwardRequest(options.client, request, {
    url: targetUrl,
    headerNames: FORWARDED_REQUEST_HEADERS,
    headers: { [FORWARDED_HEADER]: options.selfId },
    deadlineMs: remainingMs,
    mutates,
    outcomeUnknown: PartErrors.outcomeUnknown,
    target: 'the owner',
  });
  if (response === null) return false;
  const problem = String(response.headers['content-type'] ?? '').includes('problem+json')
    ? parseProblem(response.body)
    : undefined;
  if (problem?.code && RETRIED_CODES.has(problem.code)) {
    if (problem.code === PartErrors.wrongOwner.code && typeof problem.epoch === 'number') {
      await options.machine.waitEpoch(problem.epoch, EPOCH_CATCH_UP_MS).catch(() => undefined);
    }
    return false;
  }
  relayHeaders(response, reply, RELAYED_HEADERS);
  void reply.status(response.status).send(response.body);
  return true;
}

function parseProblem(body: Buffer): { code?: string; epoch?: number } | undefined {
  try {
    return JSON.parse(body.toString('utf8')) as { code?: string; epoch?: number };
  } catch {
    return undefined;
  }
}
