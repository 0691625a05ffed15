// Raft between processes, on the service's own HTTP port. Messages travel on one long-lived
// stream per directed pair of nodes: the sender opens `GET /raft/stream` with
// `Upgrade: ddia-raft/1`, the receiver answers 101, and from then on the connection carries
// checksummed frames of binary message batches one way (frame.ts, binary-codec.ts), with no
// HTTP request, response or JSON per batch. etcd's rafthttp does the same with its long-lived
// "stream" connections; a request per batch cost this lab more CPU than the rest of a write.
// Whatever a Ready produces for a peer goes out as one frame, in order. While the stream is
// down, messages wait in a bounded queue (the oldest are dropped: Raft resends); a stream
// that cannot keep up (a blackholed link) drops new messages rather than buffering forever.
// Snapshots travel separately as chunked POSTs through common's HttpClient, so that a big
// snapshot neither blocks heartbeats nor exceeds a frame (the paper's InstallSnapshot
// `offset`/`done`, Figure 13). Receiving side: registerRaftRoutes (raft-routes.ts).
import http from 'node:http';
import type { Socket } from 'node:net';
import { HttpClient } from '@ddia/common';
import type { Message, NodeId } from '../core/types.js';
import { encodeMessages } from './binary-codec.js';
import { FRAME_HEADER_BYTES, sealFrame } from './frame.js';
import { bytesToBase64, encodeMessage, type WireMessage } from './json-codec.js';
import type { Transport } from './transport.js';

export const STREAM_PATH = '/raft/stream';
export const STREAM_PROTOCOL = 'ddia-raft/1';
/** Sent by the dialer so the receiver can say who a stream is from (logs, metrics). */
export const STREAM_FROM_HEADER = 'x-raft-from';
export const SNAPSHOT_PATH = '/raft/snapshot';
export const REQUEST_DEADLINE_DEFAULT_MS = 2_000;
/** A stream that is not up within this long is abandoned (a blackholed link never answers). */
export const CONNECT_TIMEOUT_MS = 1_000;
/** Messages kept per peer while its stream is down; beyond this the oldest are dropped. */
export const QUEUE_MESSAGES_MAX = 4096;
/** Bytes the kernel has not taken yet on a stream; beyond this new messages are dropped. */
export const STREAM_BUFFER_BYTES_MAX = 16 * 1024 * 1024;
/** Bytes of snapshot data per chunk request (before base64). */
export const SNAPSHOT_CHUNK_BYTES = 512 * 1024;
/** After a failed connection, wait this long before dialing that peer again. */
export const PEER_BACKOFF_MS = 100;

export interface HttpTransportOptions {
  self: NodeId;
  peers?: Record<NodeId, string>;
  requestDeadlineMs?: number;
  /** Share a client (and its connection pools) with the service; one is created otherwise. */
  client?: HttpClient;
}

export interface SnapshotChunkBody {
  message: WireMessage;
  offset: number;
  totalBytes: number;
  chunk: string;
}

interface PeerState {
  id: NodeId;
  url: string;
  stream: Socket | null;
  dialing: http.ClientRequest | null;
  /** Messages waiting for the stream to come up. */
  queue: Message[];
  retryTimer: NodeJS.Timeout | null;
  backoffUntilMs: number;
  snapshotSending: boolean;
}

export class HttpTransport implements Transport {
  private handlers: Parameters<Transport['start']>[0] | null = null;
  private readonly peers = new Map<NodeId, PeerState>();
  private closed = false;
  private readonly client: HttpClient;
  private readonly ownsClient: boolean;
  private readonly deadlineMs: number;
  readonly stats = { frames: 0, messages: 0, bytes: 0, dials: 0, dialFailures: 0, dropped: 0 };

  constructor(private readonly options: HttpTransportOptions) {
    this.ownsClient = options.client === undefined;
    this.client = options.client ?? new HttpClient({ retries: 0 });
    this.deadlineMs = options.requestDeadlineMs ?? REQUEST_DEADLINE_DEFAULT_MS;
    this.setPeers(options.peers ?? {});
  }

  start(handlers: Parameters<Transport['start']>[0]): void {
    this.handlers = handlers;
  }

  setPeers(peers: Record<NodeId, string>): void {
    for (const [id, url] of Object.entries(peers)) {
      if (id === this.options.self) continue;
      const base = url.replace(/\/+$/, '');
      const existing = this.peers.get(id);
      if (existing) {
        if (existing.url !== base) {
          existing.url = base;
          this.hangUp(existing); // the next send dials the new address
        }
        continue;
      }
      this.peers.set(id, {
        id,
        url: base,
        stream: null,
        dialing: null,
        queue: [],
        retryTimer: null,
        backoffUntilMs: 0,
        snapshotSending: false,
      });
    }
  }

  send(messages: Message[]): void {
    if (this.closed) return;
    const byPeer = new Map<PeerState, Message[]>();
    for (const m of messages) {
      const peer = this.peers.get(m.to);
      if (!peer) {
        this.stats.dropped++;
        continue;
      }
      if (m.type === 'snap') {
        void this.sendSnapshot(peer, m);
        continue;
      }
      const list = byPeer.get(peer);
      if (list) list.push(m);
      else byPeer.set(peer, [m]);
    }
    for (const [peer, list] of byPeer) {
      if (peer.stream) this.write(peer, peer.stream, list);
      else this.enqueue(peer, list);
    }
  }

  private write(peer: PeerState, stream: Socket, messages: Message[]): void {
    if (stream.writableLength > STREAM_BUFFER_BYTES_MAX) {
      this.stats.dropped += messages.length;
      return;
    }
    const frame = sealFrame(encodeMessages(messages, FRAME_HEADER_BYTES));
    this.stats.frames++;
    this.stats.messages += messages.length;
    this.stats.bytes += frame.length;
    stream.write(frame, (err) => {
      if (err) this.hangUp(peer);
    });
  }

  private enqueue(peer: PeerState, messages: Message[]): void {
    for (const m of messages) peer.queue.push(m);
    const excess = peer.queue.length - QUEUE_MESSAGES_MAX;
    if (excess > 0) {
      peer.queue.splice(0, excess);
      this.stats.dropped += excess;
    }
    this.dialSoon(peer);
  }

  private dialSoon(peer: PeerState): void {
    if (this.closed || peer.stream || peer.dialing || peer.retryTimer) return;
    const wait = peer.backoffUntilMs - performance.now();
    if (wait > 0) {
      peer.retryTimer = setTimeout(() => {
        peer.retryTimer = null;
        if (peer.queue.length > 0) this.dialSoon(peer);
      }, wait);
      return;
    }
    this.dial(peer);
  }

  private dial(peer: PeerState): void {
    this.stats.dials++;
    let target: URL;
    try {
      target = new URL(peer.url);
    } catch {
      this.dialFailed(peer);
      return;
    }
    const request = http.request({
      hostname: target.hostname,
      port: target.port || 80,
      path: STREAM_PATH,
      method: 'GET',
      agent: false,
      headers: {
        connection: 'Upgrade',
        upgrade: STREAM_PROTOCOL,
        [STREAM_FROM_HEADER]: this.options.self,
      },
    });
    peer.dialing = request;
    const dialedUrl = peer.url;
    const timer = setTimeout(() => request.destroy(new Error('stream connect timeout')), CONNECT_TIMEOUT_MS);
    const settle = () => {
      clearTimeout(timer);
      if (peer.dialing === request) peer.dialing = null;
    };
    request.on('upgrade', (_response, socket: Socket, head: Buffer) => {
      settle();
      if (this.closed || peer.url !== dialedUrl) {
        socket.destroy();
        if (!this.closed) this.dialSoon(peer);
        return;
      }
      if (head.length > 0) {
        // The receiver never writes on a stream: anything here is a confused peer.
        socket.destroy();
        this.dialFailed(peer);
        return;
      }
      socket.setNoDelay(true);
      socket.resume(); // discard anything the receiver might send; keeps 'close' flowing
      socket.on('error', () => {});
      socket.on('close', () => {
        if (peer.stream === socket) {
          peer.stream = null;
          peer.backoffUntilMs = performance.now() + PEER_BACKOFF_MS;
          if (peer.queue.length > 0) this.dialSoon(peer);
        }
      });
      peer.stream = socket;
      const queued = peer.queue;
      peer.queue = [];
      if (queued.length > 0) this.write(peer, socket, queued);
    });
    request.on('response', (response) => {
      // Anything but 101: an old peer or a wrong address.
      settle();
      response.resume();
      this.dialFailed(peer);
    });
    request.on('error', () => {
      settle();
      this.dialFailed(peer);
    });
    request.end();
  }

  private dialFailed(peer: PeerState): void {
    this.stats.dialFailures++;
    peer.backoffUntilMs = performance.now() + PEER_BACKOFF_MS;
    if (peer.queue.length > 0) this.dialSoon(peer);
  }

  private hangUp(peer: PeerState): void {
    peer.dialing?.destroy();
    peer.dialing = null;
    peer.stream?.destroy();
    peer.stream = null;
  }

  private async post(url: string, body: unknown): Promise<boolean> {
    try {
      const res = await this.client.request(url, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
        deadlineMs: this.deadlineMs,
        retry: false,
      });
      return res.status >= 200 && res.status < 300;
    } catch {
      return false;
    }
  }

  private async sendSnapshot(peer: PeerState, m: Message): Promise<void> {
    if (peer.snapshotSending) return; // one at a time; the leader re-sends if this one fails
    peer.snapshotSending = true;
    try {
      const data = m.snapshot?.data ?? new Uint8Array(0);
      const message = encodeMessage(m);
      let offset = 0;
      do {
        const chunk = data.subarray(offset, offset + SNAPSHOT_CHUNK_BYTES);
        const body: SnapshotChunkBody = {
          message,
          offset,
          totalBytes: data.length,
          chunk: bytesToBase64(chunk),
        };
        if (!(await this.post(`${peer.url}${SNAPSHOT_PATH}`, body))) {
          this.handlers?.snapshotFailed(m.to);
          return;
        }
        offset += chunk.length;
      } while (offset < data.length);
    } finally {
      peer.snapshotSending = false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.peers.values()) {
      if (p.retryTimer) clearTimeout(p.retryTimer);
      p.retryTimer = null;
      p.queue = [];
      this.hangUp(p);
    }
    if (this.ownsClient) await this.client.close();
  }
}
