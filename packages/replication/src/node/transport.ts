// Peer messages over HTTP: each flush of a core sends one POST per peer carrying every message
// for it (`POST /replication/messages`), through common's HttpClient, fire and forget. The cores
// tolerate loss, duplication and reordering (their simulations inject all three), so a failed
// or timed-out post is dropped, not retried: the core's own timers resend what matters.
import { HttpClient } from '@ddia/common';
import type { Envelope } from '../core/ready.js';

/** Posts in flight to one peer beyond which new batches are dropped (a dead peer's backlog). */
export const INFLIGHT_PER_PEER_MAX = 32;
export const PEER_DEADLINE_MS = 1_000;
export const MESSAGES_PATH = '/replication/messages';

export interface MessageBatch<M> {
  from: string;
  messages: M[];
}

export class PeerTransport<M> {
  private readonly client = new HttpClient({ deadlineMs: PEER_DEADLINE_MS, retries: 0 });
  private readonly inflight = new Map<string, number>();
  sent = 0;
  dropped = 0;

  constructor(
    private readonly self: string,
    private readonly urls: ReadonlyMap<string, string>,
  ) {}

  send(envelopes: readonly Envelope<M>[]): void {
    const byPeer = new Map<string, M[]>();
    for (const { to, msg } of envelopes) {
      const list = byPeer.get(to) ?? [];
      list.push(msg);
      byPeer.set(to, list);
    }
    for (const [peer, messages] of byPeer) this.post(peer, messages);
  }

  private post(peer: string, messages: M[]): void {
    const url = this.urls.get(peer);
    const busy = this.inflight.get(peer) ?? 0;
    if (url === undefined || busy >= INFLIGHT_PER_PEER_MAX) {
      this.dropped += messages.length;
      return;
    }
    this.inflight.set(peer, busy + 1);
    this.sent += messages.length;
    const body: MessageBatch<M> = { from: this.self, messages };
    this.client
      .request(`${url}${MESSAGES_PATH}`, { method: 'POST', body, retry: false })
      .catch(() => {
        this.dropped += messages.length;
      })
      .finally(() => this.inflight.set(peer, (this.inflight.get(peer) ?? 1) - 1));
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
