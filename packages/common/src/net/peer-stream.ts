// Peer streams: one long-lived, one-way stream of frames per directed pair of nodes, on the
// service's own HTTP port. The sender opens `GET <path>` with `Upgrade: <protocol>` and names
// itself in a header; the receiver answers 101 and from then on the connection carries frames
// (peer-stream-frame.ts) of message batches, with no HTTP request, response or timeout per batch.
// etcd's rafthttp "stream" connections and PostgreSQL's walsender work the same way: a request
// per batch cost this lab more CPU than the rest of a write. Raft and replication both ride on it;
// each brings its own path, protocol and payload encoding.
//
// Sender rules. Messages for a peer go out as one frame per send() ('call') or per turn of the
// event loop ('tick': everything sent within one turn, in order, in one socket write). TCP keeps
// frames in order, which both protocols rely on. While a stream is down, messages wait in a bounded
// queue (the oldest dropped); a stream the kernel does not drain (a peer that stopped reading,
// a blackholed link) drops new messages rather than buffering without end. A failed dial waits
// common's backoff (full jitter, growing per consecutive failure, reset by a stream that comes
// up) before the next. Every drop is counted: the protocols above tolerate loss and resend.
//
// Receiver rules. A request that is not a proper upgrade gets 400/404/503 problem+json on the raw
// socket; a bad frame (checksum, size, or a payload the decoder refuses) ends the stream, and
// the sender dials again. Streams are destroyed before the server closes, since an upgraded
// socket is no HTTP connection and the server's shutdown would wait for it forever.
import http, { type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Random } from '../core/random.js';
import { backoffDelayMs } from './http-client.js';
import { FRAME_HEADER_BYTES, FRAME_PAYLOAD_BYTES_MAX, FrameReader, sealFrame } from './peer-stream-frame.js';

/** What names a stream: both sides must agree on all three. */
export interface PeerStreamProtocol {
  /** The upgrade path, e.g. `/raft/stream`. */
  path: string;
  /** The `Upgrade:` token, e.g. `ddia-raft/1` (lower case). */
  protocol: string;
  /** The header in which the dialer names itself, e.g. `x-raft-from` (lower case). */
  fromHeader: string;
}

export const PEER_QUEUE_MESSAGES_MAX = 4096;
export const PEER_STREAM_BUFFER_BYTES_MAX = 16 * 1024 * 1024;
/** A stream that is not up within this long is abandoned (a blackholed link never answers). */
export const PEER_CONNECT_TIMEOUT_MS = 1_000;
export const PEER_BACKOFF_BASE_MS = 100;
export const PEER_BACKOFF_MAX_MS = 1_000;

export interface PeerStreamSenderOptions<M> extends PeerStreamProtocol {
  self: string;
  peers?: Iterable<readonly [string, string]>;
  /** Encodes a batch into a buffer whose first FRAME_HEADER_BYTES bytes are left for the header. */
  encode(messages: readonly M[], headerBytes: number): Buffer;
  /** 'call': one frame per send() (the caller batches); 'tick': one frame per event-loop turn. */
  coalesce?: 'call' | 'tick';
  queueMessagesMax?: number;
  streamBufferBytesMax?: number;
  connectTimeoutMs?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Jitter source; seeded in tests, Math.random otherwise. */
  random?: Random;
}

export interface PeerStreamSenderStats {
  /** Messages written to a stream. */
  messages: number;
  /** Messages dropped: unknown peer, queue full while down, or a stream that is not draining. */
  dropped: number;
  frames: number;
  bytes: number;
  dials: number;
  dialFailures: number;
}

interface Link<M> {
  id: string;
  url: string;
  stream: Socket | null;
  dialing: http.ClientRequest | null;
  /** Messages for the next frame (stream up, 'tick') or waiting for the stream (down). */
  queue: M[];
  flushScheduled: boolean;
  retryTimer: ReturnType<typeof setTimeout> | null;
  backoffUntilMs: number;
  /** Dials that failed since the last stream came up: the backoff's exponent. */
  failures: number;
}

export class PeerStreamSender<M> {
  readonly stats: PeerStreamSenderStats = {
    messages: 0,
    dropped: 0,
    frames: 0,
    bytes: 0,
    dials: 0,
    dialFailures: 0,
  };
  private readonly links = new Map<string, Link<M>>();
  private closed = false;
  private readonly coalesce: 'call' | 'tick';
  private readonly queueMax: number;
  private readonly bufferMax: number;
  private readonly connectTimeoutMs: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly random: () => number;

  constructor(private readonly options: PeerStreamSenderOptions<M>) {
    this.coalesce = options.coalesce ?? 'call';
    this.queueMax = options.queueMessagesMax ?? PEER_QUEUE_MESSAGES_MAX;
    this.bufferMax = options.streamBufferBytesMax ?? PEER_STREAM_BUFFER_BYTES_MAX;
    this.connectTimeoutMs = options.connectTimeoutMs ?? PEER_CONNECT_TIMEOUT_MS;
    this.backoffBaseMs = options.backoffBaseMs ?? PEER_BACKOFF_BASE_MS;
    this.backoffMaxMs = options.backoffMaxMs ?? PEER_BACKOFF_MAX_MS;
    const random = options.random;
    this.random = random ? () => random.next() : Math.random;
    this.setPeers(options.peers ?? []);
  }

  /** Adds peers or moves them to a new address (a moved peer's stream is hung up and redialed). */
  setPeers(peers: Iterable<readonly [string, string]>): void {
    for (const [id, url] of peers) {
      if (id === this.options.self) continue;
      const base = url.replace(/\/+$/, '');
      const existing = this.links.get(id);
      if (existing) {
        if (existing.url !== base) {
          existing.url = base;
          this.hangUp(existing);
          if (existing.queue.length > 0) this.dialSoon(existing);
        }
        continue;
      }
      this.links.set(id, {
        id,
        url: base,
        stream: null,
        dialing: null,
        queue: [],
        flushScheduled: false,
        retryTimer: null,
        backoffUntilMs: 0,
        failures: 0,
      });
    }
  }

  /** Whether a stream to `peer` is up now. */
  isOpen(peer: string): boolean {
    return this.links.get(peer)?.stream != null;
  }

  send(to: string, messages: readonly M[]): void {
    if (this.closed || messages.length === 0) return;
    const link = this.links.get(to);
    if (!link) {
      this.stats.dropped += messages.length;
      return;
    }
    for (const m of messages) link.queue.push(m);
    const excess = link.queue.length - this.queueMax;
    if (excess > 0) {
      link.queue.splice(0, excess);
      this.stats.dropped += excess;
    }
    if (this.coalesce === 'call') {
      this.flush(link);
    } else if (!link.flushScheduled) {
      link.flushScheduled = true;
      setImmediate(() => {
        link.flushScheduled = false;
        this.flush(link);
      });
    }
  }

  private flush(link: Link<M>): void {
    if (this.closed || link.queue.length === 0) return;
    const stream = link.stream;
    if (!stream) {
      this.dialSoon(link);
      return;
    }
    const messages = link.queue;
    link.queue = [];
    if (stream.writableLength > this.bufferMax) {
      this.stats.dropped += messages.length;
      return;
    }
    const frame = sealFrame(this.options.encode(messages, FRAME_HEADER_BYTES));
    this.stats.frames++;
    this.stats.messages += messages.length;
    this.stats.bytes += frame.length;
    stream.write(frame, (error) => {
      if (error && link.stream === stream) this.hangUp(link);
    });
  }

  private dialSoon(link: Link<M>): void {
    if (this.closed || link.stream || link.dialing || link.retryTimer) return;
    const wait = link.backoffUntilMs - performance.now();
    if (wait > 0) {
      link.retryTimer = setTimeout(() => {
        link.retryTimer = null;
        if (link.queue.length > 0) this.dialSoon(link);
      }, wait);
      link.retryTimer.unref?.();
      return;
    }
    this.dial(link);
  }

  private dial(link: Link<M>): void {
    this.stats.dials++;
    let target: URL;
    try {
      target = new URL(link.url);
    } catch {
      this.dialFailed(link);
      return;
    }
    const { path, protocol, fromHeader, self } = this.options;
    const request = http.request({
      hostname: target.hostname,
      port: target.port || 80,
      path,
      method: 'GET',
      agent: false,
      headers: { connection: 'Upgrade', upgrade: protocol, [fromHeader]: self },
    });
    link.dialing = request;
    const dialedUrl = link.url;
    const timer = setTimeout(
      () => request.destroy(new Error('peer stream connect timeout')),
      this.connectTimeoutMs,
    );
    const settle = () => {
      clearTimeout(timer);
      if (link.dialing === request) link.dialing = null;
    };
    request.on('upgrade', (_response, socket: Socket, head: Buffer) => {
      settle();
      if (this.closed || link.url !== dialedUrl) {
        socket.destroy();
        if (!this.closed && link.queue.length > 0) this.dialSoon(link);
        return;
      }
      if (head.length > 0) {
        // The receiver never writes on a stream: bytes here are a confused peer.
        socket.destroy();
        this.dialFailed(link);
        return;
      }
      socket.setNoDelay(true);
      socket.resume(); // nothing comes back; reading keeps 'close' flowing
      socket.on('error', () => {});
      socket.on('close', () => {
        if (link.stream !== socket) return;
        link.stream = null;
        // A stream that dies right after it came up must not be redialed in a tight loop.
        link.backoffUntilMs = performance.now() + this.backoffMs(0);
        if (link.queue.length > 0) this.dialSoon(link);
      });
      link.stream = socket;
      link.failures = 0;
      this.flush(link);
    });
    request.on('response', (response) => {
      // Anything but 101: a wrong address, an old peer, or a node shutting down.
      settle();
      response.resume();
      this.dialFailed(link);
    });
    request.on('error', () => {
      settle();
      this.dialFailed(link);
    });
    request.end();
  }

  private backoffMs(attempt: number): number {
    return backoffDelayMs(attempt, this.backoffBaseMs, this.backoffMaxMs, this.random());
  }

  private dialFailed(link: Link<M>): void {
    this.stats.dialFailures++;
    link.backoffUntilMs = performance.now() + this.backoffMs(link.failures);
    link.failures++;
    if (link.queue.length > 0) this.dialSoon(link);
  }

  private hangUp(link: Link<M>): void {
    link.dialing?.destroy();
    link.dialing = null;
    link.stream?.destroy();
    link.stream = null;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const link of this.links.values()) {
      if (link.retryTimer) clearTimeout(link.retryTimer);
      link.retryTimer = null;
      link.queue = [];
      this.hangUp(link);
    }
  }
}

/** The slice of a fastify instance the receiver needs (structural, so callers need not be fastify). */
export interface PeerStreamHost {
  server: {
    on(event: 'upgrade', listener: (request: IncomingMessage, socket: Duplex, head: Buffer) => void): unknown;
  };
  addHook(name: 'preClose', hook: () => Promise<void>): unknown;
}

export interface PeerStreamReceiverOptions<M> extends PeerStreamProtocol {
  /** Decodes a frame's payload; throwing ends the stream as a bad frame. */
  decode(payload: Buffer): M[];
  deliver(from: string, messages: M[]): void;
  /** Which senders may open a stream (a member list; '' when unnamed); anyone when absent. */
  accepts?: (from: string) => boolean;
  /** The `code` of refusals' problem+json bodies. */
  problemCode?: string;
  payloadBytesMax?: number;
}

export interface PeerStreamReceiverStats {
  streamsOpen: number;
  streamsAccepted: number;
  frames: number;
  messages: number;
  /** Streams ended because a frame failed its checksum or size, or did not decode. */
  badFrames: number;
  /** Upgrade requests refused (wrong path or protocol, an unknown sender, shutting down). */
  refused: number;
}

type UpgradeHandler = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;
/** Upgrade handlers by path, one dispatcher per server, so several protocols can share a port. */
const upgradeRoutes = new WeakMap<object, Map<string, UpgradeHandler>>();

/** Writes a problem+json answer on a raw socket and closes it (an upgrade has no reply object). */
export function refuseUpgrade(
  socket: Duplex,
  status: number,
  title: string,
  detail: string,
  code: string,
): void {
  const body = JSON.stringify({ type: 'about:blank', title, status, detail, code });
  socket.end(
    `HTTP/1.1 ${status} ${title}\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

function routeUpgrades(host: PeerStreamHost, path: string, handler: UpgradeHandler, code: string): void {
  let routes = upgradeRoutes.get(host.server);
  if (!routes) {
    const table = new Map<string, UpgradeHandler>();
    routes = table;
    upgradeRoutes.set(host.server, table);
    host.server.on('upgrade', (request, socket, head) => {
      const at = (request.url ?? '').split('?')[0] ?? '';
      const route = table.get(at);
      if (route) route(request, socket, head);
      else refuseUpgrade(socket, 404, 'Not Found', `no upgrade at ${at}`, code);
    });
  }
  routes.set(path, handler);
}

/** Accepts peer streams at `options.path` on the host's server; returns live counters. */
export function acceptPeerStreams<M>(
  host: PeerStreamHost,
  options: PeerStreamReceiverOptions<M>,
): PeerStreamReceiverStats {
  const stats: PeerStreamReceiverStats = {
    streamsOpen: 0,
    streamsAccepted: 0,
    frames: 0,
    messages: 0,
    badFrames: 0,
    refused: 0,
  };
  const code = options.problemCode ?? 'DDIA_ERR_BAD_REQUEST';
  const streams = new Set<Duplex>();
  let closing = false;
  routeUpgrades(
    host,
    options.path,
    (request, socket, head) => {
      const protocol = String(request.headers.upgrade ?? '').toLowerCase();
      const named = request.headers[options.fromHeader];
      const from = typeof named === 'string' ? named : '';
      if (closing) {
        stats.refused++;
        refuseUpgrade(socket, 503, 'Service Unavailable', 'shutting down', code);
        return;
      }
      if (protocol !== options.protocol || !(options.accepts?.(from) ?? true)) {
        stats.refused++;
        refuseUpgrade(
          socket,
          400,
          'Bad Request',
          `${options.path} speaks Upgrade: ${options.protocol}${options.accepts ? ` from a member named in ${options.fromHeader}` : ''}`,
          code,
        );
        return;
      }
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nupgrade: ${options.protocol}\r\nconnection: Upgrade\r\n\r\n`,
      );
      (socket as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
      streams.add(socket);
      stats.streamsOpen++;
      stats.streamsAccepted++;
      const reader = new FrameReader(options.payloadBytesMax ?? FRAME_PAYLOAD_BYTES_MAX);
      const onData = (chunk: Buffer) => {
        // A stream out of step cannot be resynchronised: end it, the sender dials again.
        const bad = () => {
          stats.badFrames++;
          socket.destroy();
        };
        let payloads: Buffer[];
        try {
          payloads = reader.push(chunk);
        } catch {
          bad();
          return;
        }
        for (const payload of payloads) {
          let messages: M[];
          try {
            messages = options.decode(payload);
          } catch {
            bad();
            return;
          }
          stats.frames++;
          stats.messages += messages.length;
          options.deliver(from, messages);
        }
      };
      socket.on('data', onData);
      socket.on('error', () => {});
      socket.once('close', () => {
        streams.delete(socket);
        stats.streamsOpen--;
      });
      if (head.length > 0) onData(head);
    },
    code,
  );
  host.addHook('preClose', async () => {
    closing = true;
    for (const s of streams) s.destroy();
  });
  return stats;
}
