// The receiving side of the HTTP transport, mounted by a service on its own fastify app (one
// port carries client and Raft traffic):
//   GET /raft/stream (Upgrade: ddia-raft/1)  -> 101, then frames of message batches, one way
//   POST /raft/snapshot  {"message", "offset", "totalBytes", "chunk"}  -> 200 {"complete": bool}
// A stream request that is not a proper upgrade gets 400/404 problem+json; a bad frame ends
// the stream (the sender dials again). Malformed snapshot chunks get 400 problem+json; a chunk
// out of order gets 409 (the sender restarts).
import { acceptPeerStreams, type PeerStreamHost, type PeerStreamReceiverStats } from '@ddia/common';
import type { Message } from '../core/types.js';
import { RaftBadRequestError, RaftError, RaftErrors } from '../errors.js';
import { decodeMessages } from './binary-codec.js';
import { RAFT_STREAM, SNAPSHOT_PATH, type SnapshotChunkBody } from './http-transport.js';
import { base64ToBytes, decodeMessage, type WireMessage } from './json-codec.js';

export const SNAPSHOT_CHUNK_BODY_BYTES_MAX = 2 * 1024 * 1024;
/** The largest snapshot a node accepts. */
export const SNAPSHOT_BYTES_MAX = 1024 * 1024 * 1024;
const PROBLEM_TYPE = 'application/problem+json';

export interface RaftReceiver {
  receive(messages: Message[]): void;
}

export interface RaftRouteRequest {
  body: unknown;
}

export interface RaftRouteReply {
  code(statusCode: number): unknown;
  type(contentType: string): unknown;
}

/** What the receiving side saw, for metrics and tests. */
export type RaftStreamStats = PeerStreamReceiverStats;

/** The slice of a fastify instance this needs (kept structural so raft does not depend on fastify). */
export interface RaftRouteHost extends PeerStreamHost {
  post(
    path: string,
    options: { bodyLimit: number },
    handler: (request: RaftRouteRequest, reply: RaftRouteReply) => Promise<unknown>,
  ): unknown;
}

/** Reassembles chunked snapshots, one in progress per sender. */
export class SnapshotAssembler {
  private readonly inProgress = new Map<string, { key: string; buffer: Uint8Array; received: number }>();

  add(body: unknown): Message | null {
    if (typeof body !== 'object' || body === null)
      throw new RaftBadRequestError('snapshot chunk must be an object');
    const b = body as Partial<SnapshotChunkBody>;
    const message = b.message as WireMessage | undefined;
    if (!message || typeof message !== 'object' || message.type !== 'snap' || !message.snapshotMeta) {
      throw new RaftBadRequestError('snapshot chunk must carry a snap message with snapshotMeta');
    }
    const { offset, totalBytes, chunk } = b;
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
      throw new RaftBadRequestError('offset must be a non-negative integer');
    }
    if (typeof totalBytes !== 'number' || !Number.isSafeInteger(totalBytes) || totalBytes < 0) {
      throw new RaftBadRequestError('totalBytes must be a non-negative integer');
    }
    if (totalBytes > SNAPSHOT_BYTES_MAX)
      throw new RaftBadRequestError(`snapshot larger than ${SNAPSHOT_BYTES_MAX} bytes`);
    if (typeof chunk !== 'string') throw new RaftBadRequestError('chunk must be base64 text');
    const bytes = base64ToBytes(chunk);
    const sender = String(message.from);
    const key = `${message.term}:${message.snapshotMeta.index}:${totalBytes}`;
    let state = this.inProgress.get(sender);
    if (offset === 0) {
      state = { key, buffer: new Uint8Array(totalBytes), received: 0 };
      this.inProgress.set(sender, state);
    }
    if (!state || state.key !== key || state.received !== offset) {
      this.inProgress.delete(sender);
      throw new RaftError(RaftErrors.badRequest, `snapshot chunk at ${offset} out of sequence`, {
        outOfOrder: true,
      });
    }
    if (offset + bytes.length > totalBytes) throw new RaftBadRequestError('chunk overruns totalBytes');
    state.buffer.set(bytes, offset);
    state.received += bytes.length;
    if (state.received < totalBytes) return null;
    this.inProgress.delete(sender);
    return decodeMessage(message, state.buffer);
  }
}

function problem(reply: RaftRouteReply, err: unknown): unknown {
  if (err instanceof RaftError) {
    const status = (err.extensions as { outOfOrder?: boolean }).outOfOrder ? 409 : err.status;
    reply.code(status);
    reply.type(PROBLEM_TYPE);
    return err.toProblem();
  }
  throw err;
}

export function registerRaftRoutes(app: RaftRouteHost, node: RaftReceiver): RaftStreamStats {
  const stats = acceptPeerStreams(app, {
    ...RAFT_STREAM,
    decode: decodeMessages,
    deliver: (_from, messages) => node.receive(messages),
    problemCode: RaftErrors.badRequest.code,
  });
  const assembler = new SnapshotAssembler();
  app.post(SNAPSHOT_PATH, { bodyLimit: SNAPSHOT_CHUNK_BODY_BYTES_MAX }, async (request, reply) => {
    try {
      const message = assembler.add(request.body);
      if (message) node.receive([message]);
      return { complete: message !== null };
    } catch (err) {
      return problem(reply, err);
    }
  });
  return stats;
}
