// "Any node forwards" (DDIA ch. 6 "Request Routing", the first of its three options, as in
// Cassandra and Riak): a node that does not own a key's partition sends the request to the
// owner named by its configuration and relays the answer. A request is forwarded at most once:
// the owner that no longer owns it answers 421 naming the owner it knows, and the forwarding
// node, which holds the client's deadline, waits for that epoch and tries again. A partition
// in the middle of its handoff answers a retriable 503, which is also retried until the deadline.
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
  attempt: () => Promise<Routed>,
): Promise<FastifyReply> {
  const deadlineAt = performance.now() + options.requestTimeoutMs;
  const forwarded = isForwarded(request);
  for (;;) {
    const remainingMs = deadlineAt - performance.now();
    try {
      const outcome = await attempt();
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
      // Only this node's own retriable refusals are retried here; a forwarded request goes back
      // at once to the node that forwarded it, which holds the client's deadline.
      if (forwarded || !(error instanceof DdiaError) || !RETRIED_CODES.has(error.code)) throw error;
      if (remainingMs <= ROUTE_RETRY_MS) throw error;
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
