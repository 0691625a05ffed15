// Peer messages over HTTP (`POST /replication/messages`), through common's HttpClient. Each
// peer has one post in flight at a time, carrying every message queued for it since the last
// one: messages to a peer arrive in the order they were sent, as on a TCP stream (parallel
// posts on several connections would reorder them, and a single-leader follower would refuse
// the later batch as a gap and wait for a resend), and a busy link batches by itself. A failed
// or timed-out post is dropped, not retried: the cores tolerate loss and resend on their timers.
import { HttpClient } from '@ddia/common';
import type { Envelope } from '../core/ready.js';

/** Messages queued for one peer beyond which the oldest are dropped (a dead peer's backlog). */
export const QUEUE_PER_PEER_MAX = 10_000;
/** Messages per post. */
export const BATCH_MESSAGES_MAX = 1_000;
export const PEER_DEADLINE_MS = 1_000;
export const MESSAGES_PATH = '/replication/messages';

export interface MessageBatch<M> {
  from: string;
  messages: M[];
}

interface PeerLink<M> {
  queue: M[];
  busy: boolean;
}

export class PeerTransport<M> {
  private readonly client = new HttpClient({ deadlineMs: PEER_DEADLINE_MS, retries: 0 });
  private readonly links = new Map<string, PeerLink<M>>();
  private closed = false;
  sent = 0;
  dropped = 0;

  constructor(
    private readonly self: string,
    private readonly urls: ReadonlyMap<string, string>,
  ) {}

  send(envelopes: readonly Envelope<M>[]): void {
    const touched = new Set<string>();
    for (const { to, msg } of envelopes) {
      if (!this.urls.has(to) || to === this.self) {
        this.dropped++;
        continue;
      }
      let link = this.links.get(to);
      if (!link) {
        link = { queue: [], busy: false };
        this.links.set(to, link);
      }
      link.queue.push(msg);
      if (link.queue.length > QUEUE_PER_PEER_MAX) {
        link.queue.shift();
        this.dropped++;
      }
      touched.add(to);
    }
    for (const peer of touched) this.pump(peer);
  }

  private pump(peer: string): void {
    const link = this.links.get(peer);
    if (!link || link.busy || link.queue.length === 0 || this.closed) return;
    const messages = link.queue.splice(0, BATCH_MESSAGES_MAX);
    link.busy = true;
    this.sent += messages.length;
    const body: MessageBatch<M> = { from: this.self, messages };
    this.client
      .request(`${this.urls.get(peer)}${MESSAGES_PATH}`, { method: 'POST', body, retry: false })
      .then(
        (response) => {
          if (response.status !== 204) this.dropped += messages.length;
        },
        () => {
          this.dropped += messages.length;
        },
      )
      .finally(() => {
        link.busy = false;
        this.pump(peer);
      });
  }

  close(): Promise<void> {
    this.closed = true;
    return this.client.close();
  }
}
