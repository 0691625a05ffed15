// Forwarding: a follower that cannot serve a request itself sends the same request to the
// leader and relays the answer. A forwarded request carries who forwarded it (so it is
// forwarded at most once) and the time left (so the leader does not outlive the client).
// Writes need none of this: Raft carries a follower's proposal to the leader itself.
import { forwardRequest, relayHeaders } from '@ddia/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RETRY } from '../cluster/router.js';
import { KvErrors } from '../errors.js';
import type { KvRouteContext } from './context.js';

/** The request headers that carry a write's meaning: passed on when it is forwarded. */
const FORWARDED_REQUEST_HEADERS = [
  'content-type',
  'if-match',
  'if-none-match',
  'x-client-id',
  'x-request-seq',
] as const;
/** Marks a request a follower forwarded, so that it is forwarded at most once. */
export const FORWARDED_HEADER = 'x-kv-forwarded-by';
/** The forwarding node's remaining deadline, so the leader does not outlive the client. */
export const DEADLINE_HEADER = 'x-kv-deadline-ms';
const RELAYED_HEADERS = [
  'content-type',
  'etag',
  'x-revision',
  'x-request-duplicate',
  'x-raft-term',
  'x-raft-leader',
];

/** Sends the same request to the leader and relays its answer; RETRY if it was not the leader. */
export function forwarder(
  ctx: KvRouteContext,
  request: FastifyRequest,
  reply: FastifyReply,
  mutates: boolean,
): (leaderUrl: string, remainingMs: number) => Promise<FastifyReply | typeof RETRY> {
  const { options, view } = ctx;
  const metrics = options.metrics;
  return async (leaderUrl, remainingMs) => {
    metrics.forwarded.inc({ route: request.routeOptions.url ?? 'unknown' });
    const response = await forwardRequest(options.client, request, {
      url: `${leaderUrl}${request.url}`,
      headerNames: FORWARDED_REQUEST_HEADERS,
      headers: {
        [FORWARDED_HEADER]: view.current()?.id ?? 'unknown',
        [DEADLINE_HEADER]: String(Math.floor(remainingMs)),
      },
      deadlineMs: remainingMs,
      mutates,
      outcomeUnknown: KvErrors.outcomeUnknown,
      target: 'the leader',
    });
    if (response === null) return RETRY;
    if (response.status === 503 && problemCode(response.body) === KvErrors.notLeader.code) return RETRY;
    relayHeaders(response, reply, RELAYED_HEADERS);
    return reply.status(response.status).send(response.body);
  };
}

function problemCode(body: Buffer): string | undefined {
  try {
    return (JSON.parse(body.toString('utf8')) as { code?: string }).code;
  } catch {
    return undefined;
  }
}
