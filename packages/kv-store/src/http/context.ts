// What every route plugin of a kv node shares: the node's options, the cached leader
// view, and the two routing helpers (where a member is, how long a request may take).
import type { HttpClient, Service } from '@ddia/common';
import type { FastifyRequest } from 'fastify';
import type { ConsensusNode } from '../cluster/consensus.js';
import type { LeaderView } from '../cluster/leader-view.js';
import type { KvMetrics } from '../metrics.js';
import type { KvStateMachine } from '../store/state-machine.js';
import { DEADLINE_HEADER } from './forwarding.js';

export interface KvServerOptions {
  service: Service;
  /** The Raft node; a getter because the node starts after the routes are mounted. */
  node: () => ConsensusNode;
  machine: KvStateMachine;
  client: HttpClient;
  metrics: KvMetrics;
  keyBytesMax: number;
  valueBytesMax: number;
  requestTimeoutMs: number;
  /** This node's view of its peers' URLs (from --peers); used before Raft's member URLs. */
  peerUrls: ReadonlyMap<string, string>;
}

export interface KvRouteContext {
  options: KvServerOptions;
  node: () => ConsensusNode;
  view: LeaderView;
  /** A member's URL: this node's --peers first, then what Raft's membership says. */
  urlOf: (id: string) => string | undefined;
}

/**
 * When a request must be answered by: the node's request timeout, or less if a forwarding
 * node passed on its own remaining deadline.
 */
export function deadlineOf(request: FastifyRequest, requestTimeoutMs: number): number {
  const forwarded = request.headers[DEADLINE_HEADER];
  const fromHeader = typeof forwarded === 'string' ? Number(forwarded) : Number.NaN;
  const budgetMs =
    Number.isFinite(fromHeader) && fromHeader > 0 ? Math.min(fromHeader, requestTimeoutMs) : requestTimeoutMs;
  return performance.now() + budgetMs;
}

const keyDecoder = new TextDecoder();
export function keyText(key: Uint8Array): string {
  return keyDecoder.decode(key);
}
