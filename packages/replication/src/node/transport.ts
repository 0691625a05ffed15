// Peer messages between processes, on the service's own port. Each directed pair of nodes has
// one long-lived stream: the sender opens `GET /replication/stream` with
// `Upgrade: ddia-replication/1`, the receiver answers 101, and from then on the connection
// carries checksummed frames (frame.ts) of JSON message batches one way, with no HTTP request,
// response or timeout per batch: PostgreSQL's walsender streams WAL to a standby the same way,
// and the raft package does the same for its AppendEntries. Profiling the leader during the
// bench showed a POST per batch (plus its 204) costing more than the rest of a write.
//
// Everything sent to a peer within one turn of the event loop (setImmediate: several Readies,
// acks and shipments) goes out as one frame in one socket write, in send order: a TCP stream keeps it in
// order, which single-leader shipping relies on (a later batch before an earlier one is a gap).
// While a stream is down, messages wait in a bounded queue (the oldest dropped); a stream the
// kernel does not drain (a peer that stopped reading) drops new messages rather than buffering
// without end. Every drop is counted (`dropped`, in /metrics): the cores tolerate loss and
// resend on their timers. `POST /replication/messages` is still accepted from older senders.
import http from 'node:http';
import type { Socket } from 'node:net';
import type { Envelope } from '../core/ready.js';
import { encodeFrame } from './frame.js';

export const MESSAGES_PATH = '/replication/messages';
export const STREAM_PATH = '/replication/stream';
export const STREAM_PROTOCOL = 'ddia-replication/1';
/** The dialer names itself, so the receiver knows whom the stream's messages are from. */
export const STREAM_FROM_HEADER = 'x-replication-from';
/** Messages kept per peer while its stream is down; beyond this the oldest are dropped. */
export const QUEUE_PER_PEER_MAX = 10_000;
/** Bytes the kernel has not taken yet on a stream; beyond this new messages are dropped. */
export const STREAM_BUFFER_BYTES_MAX = 32 * 1024 * 1024;
/** A stream that is not up within this long is abandoned (a blackholed link never answers). */
export const CONNECT_TIMEOUT_MS = 1_000;
/** After a failed dial, wait this long before dialing that peer again. */
export const PEER_BACKOFF_MS = 100;

export interface MessageBatch<M> {
  from: string;
  messages: M[];
}

interface PeerLink<M> {
  id: string;
  url: string;
  stream: Socket | null;
  dialing: http.ClientRequest | null;
  /** Messages for the next frame (stream up) or waiting for the stream (down). */
  queue: M[];
  flushScheduled: boolean;
  retryTimer: ReturnType<typeof setTimeout> | null;
  backoffUntilMs: number;
}

export interface TransportStats {
  sent: number;
  dropped: number;
  frames: number;
  bytes: number;
  dials: number;
  dialFailures: number;
}

export class PeerTransport<M> {
  private readonly links = new Map<string, PeerLink<M>>();
  private closed = false;
  readonly stats: TransportStats = { sent: 0, dropped: 0, frames: 0, bytes: 0, dials: 0, dialFailures: 0 };

  constructor(
    private readonly self: string,
    urls: ReadonlyMap<string, string>,
  ) {
    for (const [id, url] of urls) {
      if (id === self) continue;
      this.links.set(id, {
        id,
        url: url.replace(/\/+$/, ''),
        stream: null,
        dialing: null,
        queue: [],
        flushScheduled: false,
        retryTimer: null,
        backoffUntilMs: 0,
      });
    }
  }

  get sent(): number {
    return this.stats.sent;
  }

  get dropped(): number {
    return this.stats.dropped;
  }

  send(envelopes: readonly Envelope<M>[]): void {
    if (this.closed) return;
    for (const { to, msg } of envelopes) {
      const link = this.links.get(to);
      if (!link) {
        this.stats.dropped++;
        continue;
      }
      link.queue.push(msg);
      if (link.queue.length > QUEUE_PER_PEER_MAX) {
        link.queue.shift();
        this.stats.dropped++;
      }
      if (!link.flushScheduled) {
        link.flushScheduled = true;
        setImmediate(() => this.flush(link));
      }
    }
  }

  private flush(link: PeerLink<M>): void {
    link.flushScheduled = false;
    if (this.closed || link.queue.length === 0) return;
    if (!link.stream) {
      this.dialSoon(link);
      return;
    }
    const messages = link.queue;
    link.queue = [];
    if (link.stream.writableLength > STREAM_BUFFER_BYTES_MAX) {
      this.stats.dropped += messages.length;
      return;
    }
    const frame = encodeFrame(Buffer.from(JSON.stringify({ messages })));
    this.stats.sent += messages.length;
    this.stats.frames++;
    this.stats.bytes += frame.length;
    const stream = link.stream;
    stream.write(frame, (error) => {
      if (error) this.hangUp(link, stream);
    });
  }

  private dialSoon(link: PeerLink<M>): void {
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

  private dial(link: PeerLink<M>): void {
    this.stats.dials++;
    let target: URL;
    try {
      target = new URL(link.url);
    } catch {
      this.dialFailed(link);
      return;
    }
    const request = http.request({
      hostname: target.hostname,
      port: target.port || 80,
      path: STREAM_PATH,
      method: 'GET',
      agent: false,
      headers: { connection: 'Upgrade', upgrade: STREAM_PROTOCOL, [STREAM_FROM_HEADER]: this.self },
    });
    link.dialing = request;
    const timer = setTimeout(() => request.destroy(new Error('stream connect timeout')), CONNECT_TIMEOUT_MS);
    const settle = () => {
      clearTimeout(timer);
      if (link.dialing === request) link.dialing = null;
    };
    request.on('upgrade', (_response, socket: Socket, head: Buffer) => {
      settle();
      if (this.closed || head.length > 0) {
        // The receiver never writes on a stream: bytes here are a confused peer.
        socket.destroy();
        if (!this.closed) this.dialFailed(link);
        return;
      }
      socket.setNoDelay(true);
      socket.resume(); // nothing comes back; reading keeps 'close' flowing
      socket.on('error', () => {});
      socket.on('close', () => {
        if (link.stream !== socket) return;
        link.stream = null;
        link.backoffUntilMs = performance.now() + PEER_BACKOFF_MS;
        if (link.queue.length > 0) this.dialSoon(link);
      });
      link.stream = socket;
      this.flush(link);
    });
    request.on('response', (response) => {
      // Anything but 101: a wrong address, or a node shutting down.
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

  private dialFailed(link: PeerLink<M>): void {
    this.stats.dialFailures++;
    link.backoffUntilMs = performance.now() + PEER_BACKOFF_MS;
    if (link.queue.length > 0) this.dialSoon(link);
  }

  private hangUp(link: PeerLink<M>, stream: Socket): void {
    stream.destroy();
    if (link.stream === stream) link.stream = null;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const link of this.links.values()) {
      if (link.retryTimer) clearTimeout(link.retryTimer);
      link.retryTimer = null;
      link.queue = [];
      link.dialing?.destroy();
      link.dialing = null;
      link.stream?.destroy();
      link.stream = null;
    }
  }
}
