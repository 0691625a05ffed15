// Raft between processes over HTTP/1.1 keep-alive, through common's HttpClient (undici, a
// connection pool per origin). Raft does its own retrying, so the client never retries.
// Per peer, one request is in flight at a time and everything queued meanwhile goes in the
// next request: batching comes for free under load, and per-peer order is kept. Snapshots
// travel separately, in chunks, so that a big snapshot neither blocks heartbeats nor exceeds
// a body limit (the paper's InstallSnapshot `offset`/`done`, Figure 13).
// Routes on the receiving side: registerRaftRoutes (raft-routes.ts).
import { HttpClient } from '@ddia/common';
import type { Message, NodeId } from '../core/types.js';
import { bytesToBase64, encodeMessage, type WireMessage } from './codec.js';
import type { Transport } from './transport.js';

export const MESSAGES_PATH = '/raft/messages';
export const SNAPSHOT_PATH = '/raft/snapshot';
export const REQUEST_DEADLINE_DEFAULT_MS = 2_000;
/** Messages per request, and a soft cap on their bytes. */
export const BATCH_MESSAGES_MAX = 256;
export const BATCH_BYTES_MAX = 4 * 1024 * 1024;
/** Beyond this many queued messages per peer, the oldest are dropped (Raft resends). */
export const QUEUE_MESSAGES_MAX = 4096;
/** Bytes of snapshot data per chunk request (before base64). */
export const SNAPSHOT_CHUNK_BYTES = 512 * 1024;
/** After a failed request, wait this long before the next one to that peer. */
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
  url: string;
  queue: Message[];
  sending: boolean;
  snapshotSending: boolean;
  backoffUntilMs: number;
}

export class HttpTransport implements Transport {
  private handlers: Parameters<Transport['start']>[0] | null = null;
  private readonly peers = new Map<NodeId, PeerState>();
  private closed = false;
  private readonly client: HttpClient;
  private readonly ownsClient: boolean;
  private readonly deadlineMs: number;
  readonly stats = { requests: 0, failures: 0, dropped: 0, messages: 0 };

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
      const existing = this.peers.get(id);
      const base = url.replace(/\/+$/, '');
      if (existing) existing.url = base;
      else
        this.peers.set(id, {
          url: base,
          queue: [],
          sending: false,
          snapshotSending: false,
          backoffUntilMs: 0,
        });
    }
  }

  send(messages: Message[]): void {
    if (this.closed) return;
    for (const m of messages) {
      const peer = this.peers.get(m.to);
      if (!peer) {
        this.stats.dropped++;
        continue;
      }
      if (m.type === 'snap') {
        void this.sendSnapshot(m.to, peer, m);
        continue;
      }
      peer.queue.push(m);
      if (peer.queue.length > QUEUE_MESSAGES_MAX) {
        peer.queue.shift();
        this.stats.dropped++;
      }
      void this.pump(peer);
    }
  }

  private async post(url: string, body: unknown): Promise<boolean> {
    this.stats.requests++;
    try {
      const res = await this.client.request(url, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
        deadlineMs: this.deadlineMs,
        retry: false,
      });
      const ok = res.status >= 200 && res.status < 300;
      if (!ok) this.stats.failures++;
      return ok;
    } catch {
      this.stats.failures++;
      return false;
    }
  }

  private async pump(peer: PeerState): Promise<void> {
    if (peer.sending || this.closed) return;
    peer.sending = true;
    try {
      while (peer.queue.length > 0 && !this.closed) {
        const wait = peer.backoffUntilMs - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const batch: WireMessage[] = [];
        let bytes = 0;
        while (peer.queue.length > 0 && batch.length < BATCH_MESSAGES_MAX && bytes < BATCH_BYTES_MAX) {
          const m = peer.queue.shift() as Message;
          for (const e of m.entries) bytes += e.data.length;
          batch.push(encodeMessage(m));
        }
        this.stats.messages += batch.length;
        const ok = await this.post(`${peer.url}${MESSAGES_PATH}`, { messages: batch });
        if (!ok) peer.backoffUntilMs = performance.now() + PEER_BACKOFF_MS;
      }
    } finally {
      peer.sending = false;
    }
  }

  private async sendSnapshot(to: NodeId, peer: PeerState, m: Message): Promise<void> {
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
          this.handlers?.snapshotFailed(to);
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
    for (const p of this.peers.values()) p.queue = [];
    if (this.ownsClient) await this.client.close();
  }
}
