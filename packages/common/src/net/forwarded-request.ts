// What a node passes on when it forwards a client's request to another node (a follower to its
// leader, a partition's non-owner to the owner): the headers that carry the request's meaning,
// and the body as the route parsed it. The caller adds its own headers (who forwarded it, how
// much of the deadline is left) and answers with what comes back.
import type { FastifyRequest } from 'fastify';

export interface ForwardedParts {
  headers: Record<string, string>;
  body?: Uint8Array | object;
}

/** The named request headers (single-valued ones only) and the body: raw bytes, or parsed JSON. */
export function forwardedParts(
  request: Pick<FastifyRequest, 'headers' | 'body'>,
  headerNames: readonly string[],
): ForwardedParts {
  const headers: Record<string, string> = {};
  for (const name of headerNames) {
    const value = request.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  const { body } = request;
  if (Buffer.isBuffer(body)) return { headers, body };
  if (body !== undefined && body !== null) return { headers, body: body as object };
  return { headers };
}
