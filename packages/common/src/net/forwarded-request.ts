// What a node passes on when it forwards a client's request to another node (a follower to its
// leader, a partition's non-owner to the owner): the headers that carry the request's meaning,
// and the body as the route parsed it. The caller adds its own headers (who forwarded it, how
// much of the deadline is left) and answers with what comes back.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DdiaError, type ErrorSpec } from '../core/errors.js';
import { type HttpClient, type HttpResponse, HttpTimeoutError, HttpUnavailableError } from './http-client.js';

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

export interface ForwardOptions {
  /** The target node's URL for this request (its base and the path). */
  url: string;
  /** The request headers that carry its meaning, passed on as they came. */
  headerNames: readonly string[];
  /** The forwarding node's own headers (who forwarded it, the deadline left). */
  headers: Record<string, string>;
  deadlineMs: number;
  /** Whether the request changes anything: only a write can have an unknown outcome. */
  mutates: boolean;
  /** The caller's error for a write sent that got no answer, and the node it went to. */
  outcomeUnknown: ErrorSpec;
  target: string;
}

/**
 * Sends a client's request on to another node, once. Resolves with the answer, or with null
 * when the request may simply be sent again: the connection was refused (it certainly did not
 * arrive) or it changes nothing. A write that may have arrived without an answer is the
 * caller's `outcomeUnknown` error: sending it again could apply it twice.
 */
export async function forwardRequest(
  client: HttpClient,
  request: Pick<FastifyRequest, 'headers' | 'body' | 'method' | 'trace'>,
  options: ForwardOptions,
): Promise<HttpResponse | null> {
  const { headers, ...body } = forwardedParts(request, options.headerNames);
  try {
    return await client.request(options.url, {
      method: request.method as 'PUT',
      headers: { ...headers, ...options.headers },
      ...body,
      deadlineMs: Math.max(1, options.deadlineMs),
      retry: false,
      trace: request.trace,
    });
  } catch (error) {
    if (isConnectionRefused(error) || !options.mutates) return null;
    if (error instanceof HttpTimeoutError || error instanceof HttpUnavailableError) {
      throw new DdiaError(options.outcomeUnknown, `forwarding to ${options.target} failed: ${error.message}`);
    }
    throw error;
  }
}

/** Copies the named headers of a forwarded request's answer onto the client's reply. */
export function relayHeaders(response: HttpResponse, reply: FastifyReply, names: readonly string[]): void {
  for (const name of names) {
    const value = response.headers[name];
    if (typeof value === 'string') reply.header(name, value);
  }
}

/** Refused before anything was sent: the request certainly did not reach the node. */
function isConnectionRefused(error: unknown): boolean {
  if (!(error instanceof HttpUnavailableError)) return false;
  const cause = error.cause as { code?: string; message?: string } | undefined;
  return /ECONNREFUSED/.test(String(cause?.code ?? cause?.message));
}
