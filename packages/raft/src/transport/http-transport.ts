// Raft between processes, on the service's own HTTP port. Messages travel on @ddia/common's peer
// streams: one long-lived upgraded stream per directed pair of nodes (`GET /raft/stream`,
// `Upgrade: ddia-raft/1`), carrying checksummed frames of binary message batches one way
// (binary-codec.ts), with no HTTP request, response or JSON per batch. etcd's rafthttp does the
// same with its long-lived "stream" connections; a request per batch cost this lab more CPU
// than the rest of a write. Whatever a Ready produces for a peer goes out as one frame, in
// order; while the stream is down, messages wait in a bounded queue (the oldest are dropped:
// Raft resends), and failed dials back off (common's README, "Peer streams").
// Snapshots travel separately as chunked POSTs through common's HttpClient, so that a big
// snapshot neither blocks heartbeats nor exceeds a frame (the paper's InstallSnapshot
// `offset`/`done`, Figure 13). Receiving side: registerRaftRoutes (raft-routes.ts).
import {
  HttpClient,
  type PeerStreamProtocol,
  PeerStreamSender,
  type PeerStreamSenderStats,
} from '@ddia/common';
import type { Message, NodeId } from '../core/types.js';
import { encodeMessages } from './binary-codec.js';
import { bytesToBase64, encodeMessage, type WireMessage } from './json-codec.js';
import type { Transport } from './transport.js';

export const RAFT_STREAM: PeerStreamProtocol = {
  path: '/raft/stream',
  protocol: 'ddia-raft/1',
  /** Sent by the dialer so the receiver can say who a stream is from (logs, metrics). */
  fromHeader: 'x-raft-from',
};
export const STREAM_PATH = RAFT_STREAM.path;
export const STREAM_PROTOCOL = RAFT_STREAM.protocol;
export const SNAPSHOT_PATH = '/raft/snapshot';
export const REQUEST_DEADLINE_DEFAULT_MS = 2_000;
/** Messages kept per peer while its stream is down; beyond this the oldest are dropped. */
export const QUEUE_MESSAGES_MAX = 4096;
/** Bytes the kernel has not taken yet on a stream; beyond this new messages are dropped. */
export const STREAM_BUFFER_BYTES_MAX = 16 * 1024 * 1024;
/** Bytes of snapshot data per chunk request (before base64). */
export const SNAPSHOT_CHUNK_BYTES = 512 * 1024;

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

export class HttpTransport implements Transport {
  private handlers: Parameters<Transport['start']>[0] | null = null;
  private readonly urls = new Map<NodeId, string>();
  private readonly snapshotSending = new Set<NodeId>();
  private readonly streams: PeerStreamSender<Message>;
  private closed = false;
  private readonly client: HttpClient;
  private readonly ownsClient: boolean;
  private readonly deadlineMs: number;

  constructor(private readonly options: HttpTransportOptions) {
    this.ownsClient = options.client === undefined;
    this.client = options.client ?? new HttpClient({ retries: 0 });
    this.deadlineMs = options.requestDeadlineMs ?? REQUEST_DEADLINE_DEFAULT_MS;
    this.streams = new PeerStreamSender<Message>({
      ...RAFT_STREAM,
      self: options.self,
      encode: encodeMessages,
      coalesce: 'call',
      queueMessagesMax: QUEUE_MESSAGES_MAX,
      streamBufferBytesMax: STREAM_BUFFER_BYTES_MAX,
    });
    this.setPeers(options.peers ?? {});
  }

  /** Frames, messages, bytes, dials, failed dials and dropped messages of the peer streams. */
  get stats(): PeerStreamSenderStats {
    return this.streams.stats;
  }

  start(handlers: Parameters<Transport['start']>[0]): void {
    this.handlers = handlers;
  }

  setPeers(peers: Record<NodeId, string>): void {
    const entries = Object.entries(peers).filter(([id]) => id !== this.options.self);
    for (const [id, url] of entries) this.urls.set(id, url.replace(/\/+$/, ''));
    this.streams.setPeers(entries);
  }

  send(messages: Message[]): void {
    if (this.closed) return;
    const byPeer = new Map<NodeId, Message[]>();
    for (const m of messages) {
      if (m.type === 'snap') {
        const url = this.urls.get(m.to);
        if (url) void this.sendSnapshot(url, m);
        else this.streams.send(m.to, [m]); // counted as dropped: no such peer
        continue;
      }
      const list = byPeer.get(m.to);
      if (list) list.push(m);
      else byPeer.set(m.to, [m]);
    }
    for (const [peer, list] of byPeer) this.streams.send(peer, list);
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

  private async sendSnapshot(url: string, m: Message): Promise<void> {
    if (this.snapshotSending.has(m.to)) return; // one at a time; the leader re-sends if this one fails
    this.snapshotSending.add(m.to);
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
        if (!(await this.post(`${url}${SNAPSHOT_PATH}`, body))) {
          this.handlers?.snapshotFailed(m.to);
          return;
        }
        offset += chunk.length;
      } while (offset < data.length);
    } finally {
      this.snapshotSending.delete(m.to);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.streams.close();
    if (this.ownsClient) await this.client.close();
  }
}
