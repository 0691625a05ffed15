// Cluster routes: GET /cluster (mode, members, roles, lag, epoch), POST /cluster/promote
// (single-leader manual failover, like pg_ctl promote), the peer message endpoints (the
// upgraded stream of transport.ts, and the older POST), and the --chaos clock skew (the LWW
// experiment: a node whose clock runs behind loses its writes).
import type { Duplex } from 'node:stream';
import { CommonErrors, DdiaError, type Service } from '@ddia/common';
import { Type } from 'typebox';
import { ReplicationErrors } from '../core/errors.js';
import type { SkewableClock } from '../node/driver.js';
import { BadFrameError, FrameReader } from '../node/frame.js';
import type { ModeNode } from '../node/mode.js';
import { MESSAGES_PATH, STREAM_FROM_HEADER, STREAM_PATH, STREAM_PROTOCOL } from '../node/transport.js';

/** A clock skew beyond this is a typo, not an experiment. */
export const CLOCK_SKEW_MS_MAX = 7 * 24 * 3_600_000;
export const MESSAGES_PER_BATCH_MAX = 100_000;

export interface ClusterRouteOptions {
  service: Service;
  node: ModeNode;
  urls: ReadonlyMap<string, string>;
  clock: SkewableClock;
  chaos: boolean;
  receive: (from: string, messages: unknown[]) => void;
}

export interface StreamStats {
  streamsOpen: number;
  streamsAccepted: number;
  frames: number;
  /** Streams ended because a frame failed its checksum or did not decode as a message batch. */
  badFrames: number;
  /** Upgrade requests refused (wrong path, protocol or sender). */
  refused: number;
}

/** Writes a problem+json answer on a raw socket and closes it (an upgrade has no reply object). */
function refuseUpgrade(socket: Duplex, status: number, title: string, detail: string): void {
  const body = JSON.stringify({
    type: 'about:blank',
    title,
    status,
    detail,
    code: ReplicationErrors.badRequest.code,
  });
  socket.end(
    `HTTP/1.1 ${status} ${title}\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

function messagesOf(payload: Buffer): unknown[] {
  let batch: unknown;
  try {
    batch = JSON.parse(payload.toString('utf8'));
  } catch {
    throw new BadFrameError('frame payload is not JSON');
  }
  const messages = (batch as { messages?: unknown } | null)?.messages;
  if (!Array.isArray(messages) || messages.length > MESSAGES_PER_BATCH_MAX)
    throw new BadFrameError('frame payload is not a message batch');
  for (const m of messages)
    if (typeof m !== 'object' || m === null || typeof (m as { type?: unknown }).type !== 'string')
      throw new BadFrameError('a message without a type');
  return messages;
}

/** Accepts peer streams (transport.ts) on the service's port. */
function registerStreams(options: ClusterRouteOptions): StreamStats {
  const { service, urls } = options;
  const stats: StreamStats = { streamsOpen: 0, streamsAccepted: 0, frames: 0, badFrames: 0, refused: 0 };
  const streams = new Set<Duplex>();
  let closing = false;
  service.app.server.on('upgrade', (request, socket: Duplex, head: Buffer) => {
    const path = (request.url ?? '').split('?')[0];
    const protocol = String(request.headers.upgrade ?? '').toLowerCase();
    const from = request.headers[STREAM_FROM_HEADER];
    if (
      path !== STREAM_PATH ||
      protocol !== STREAM_PROTOCOL ||
      closing ||
      typeof from !== 'string' ||
      !urls.has(from)
    ) {
      stats.refused++;
      if (closing) refuseUpgrade(socket, 503, 'Service Unavailable', 'shutting down');
      else if (path !== STREAM_PATH) refuseUpgrade(socket, 404, 'Not Found', `no upgrade at ${path}`);
      else
        refuseUpgrade(
          socket,
          400,
          'Bad Request',
          `${STREAM_PATH} speaks Upgrade: ${STREAM_PROTOCOL} from a member named in ${STREAM_FROM_HEADER}`,
        );
      return;
    }
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nupgrade: ${STREAM_PROTOCOL}\r\nconnection: Upgrade\r\n\r\n`,
    );
    (socket as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
    streams.add(socket);
    stats.streamsOpen++;
    stats.streamsAccepted++;
    const reader = new FrameReader();
    const onData = (chunk: Buffer) => {
      try {
        for (const payload of reader.push(chunk)) {
          const messages = messagesOf(payload);
          stats.frames++;
          options.receive(from, messages);
        }
      } catch (error) {
        if (!(error instanceof BadFrameError)) throw error;
        // A stream out of step cannot be resynchronised: end it, the sender dials again.
        stats.badFrames++;
        socket.destroy();
      }
    };
    socket.on('data', onData);
    socket.on('error', () => {});
    socket.once('close', () => {
      streams.delete(socket);
      stats.streamsOpen--;
    });
    if (head.length > 0) onData(head);
  });
  // An upgraded stream is a raw socket, not an HTTP connection: the server's shutdown would
  // wait for it forever, so the streams end first.
  service.app.addHook('preClose', async () => {
    closing = true;
    for (const s of streams) s.destroy();
  });
  return stats;
}

export function registerClusterRoutes(options: ClusterRouteOptions): StreamStats {
  const { service, node, urls, clock } = options;
  const app = service.app;
  const streamStats = registerStreams(options);

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

  if (!options.chaos) return streamStats;
  app.post<{ Body: { ms: number } }>(
    '/chaos/clock-skew',
    {
      schema: {
        body: Type.Object({ ms: Type.Integer({ minimum: -CLOCK_SKEW_MS_MAX, maximum: CLOCK_SKEW_MS_MAX }) }),
      },
    },
    async (request) => {
      clock.skewMs = request.body.ms;
      service.log.warn({ skewMs: clock.skewMs }, 'wall clock skewed (chaos)');
      return { clockSkewMs: clock.skewMs };
    },
  );
  return streamStats;
}
