// Cluster routes: GET /cluster (mode, members, roles, lag, epoch), POST /cluster/promote
// (single-leader manual failover, like pg_ctl promote), the peer message endpoints (the
// upgraded stream of transport.ts, and the older POST). The --chaos clock skew (the LWW
// experiment: a node whose clock runs behind loses its writes) is common's
// (POST /chaos/clock-skew on the service's wall clock, which replication-node.ts passes in).
import {
  acceptPeerStreams,
  CommonErrors,
  DdiaError,
  type PeerStreamReceiverStats,
  type Service,
  type SkewableClock,
} from '@ddia/common';
import { Type } from 'typebox';
import { ReplicationErrors } from '../core/errors.js';
import type { ModeNode } from '../node/mode.js';
import { FRAME_PAYLOAD_BYTES_MAX, MESSAGES_PATH, PEER_STREAM } from '../node/transport.js';
import { decodeBatch, MESSAGES_PER_BATCH_MAX } from '../node/wire.js';

export interface ClusterRouteOptions {
  service: Service;
  node: ModeNode;
  urls: ReadonlyMap<string, string>;
  clock: SkewableClock;
  receive: (from: string, messages: unknown[]) => void;
}

export type StreamStats = PeerStreamReceiverStats;

export function registerClusterRoutes(options: ClusterRouteOptions): StreamStats {
  const { service, node, urls, clock } = options;
  const app = service.app;
  // Peer streams (transport.ts) from members only; a bad frame ends the stream.
  const streamStats = acceptPeerStreams(app, {
    ...PEER_STREAM,
    decode: decodeBatch,
    deliver: options.receive,
    accepts: (from) => urls.has(from),
    problemCode: ReplicationErrors.badRequest.code,
    payloadBytesMax: FRAME_PAYLOAD_BYTES_MAX,
  });

  app.get('/cluster', {}, async () => ({
    ...node.status(urls),
    clockSkewMs: clock.skewMs,
  }));

  app.post('/cluster/promote', {}, async () => {
    if (!node.promote)
      throw new DdiaError(ReplicationErrors.badPromotion, `${node.mode} mode has no leader to promote`);
    const result = await node.promote();
    if (!result.ok) throw new DdiaError(ReplicationErrors[result.error], result.detail, result.extensions);
    return result.detail;
  });

  app.post<{ Body: { from: string; messages: unknown[] } }>(
    MESSAGES_PATH,
    {
      schema: {
        body: Type.Object({
          from: Type.String({ maxLength: 64 }),
          messages: Type.Array(Type.Object({ type: Type.String() }, { additionalProperties: true }), {
            maxItems: MESSAGES_PER_BATCH_MAX,
          }),
        }),
      },
    },
    async (request, reply) => {
      if (!urls.has(request.body.from))
        throw new DdiaError(CommonErrors.badRequest, `'${request.body.from}' is not a member`);
      options.receive(request.body.from, request.body.messages);
      return reply.status(204).send();
    },
  );

  return streamStats;
}
