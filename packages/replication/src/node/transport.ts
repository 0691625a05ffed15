// Peer messages between processes ride on @ddia/common's peer streams (one long-lived upgraded
// HTTP stream of checksummed frames per directed pair of nodes, on the service's own port;
// common's README, "Peer streams"). PostgreSQL's walsender streams WAL to a standby the same
// way, and the raft package uses the same module for its AppendEntries.
//
// This file says only what is replication's own: the path and protocol names, the bounds, and
// the payload (wire.ts). Everything sent to a peer within one turn of the event loop (several
// Readies, acks and shipments) goes out as one frame in one socket write, in send order: a TCP
// stream keeps it in order, which single-leader shipping relies on (a later batch before an
// earlier one is a gap). While a stream is down, messages wait in a bounded queue (the oldest
// dropped); every drop is counted (`dropped`, in /metrics): the cores tolerate loss and resend
// on their timers. `POST /replication/messages` is still accepted from older senders.
import { type PeerStreamProtocol, PeerStreamSender, type PeerStreamSenderStats } from '@ddia/common';
import type { Envelope } from '../core/ready.js';
import { encodeBatch } from './wire.js';

export const MESSAGES_PATH = '/replication/messages';
export const PEER_STREAM: PeerStreamProtocol = {
  path: '/replication/stream',
  protocol: 'ddia-replication/1',
  /** The dialer names itself, so the receiver knows whom the stream's messages are from. */
  fromHeader: 'x-replication-from',
};
/** Messages kept per peer while its stream is down; beyond this the oldest are dropped. */
export const QUEUE_PER_PEER_MAX = 10_000;
/** Bytes the kernel has not taken yet on a stream; beyond this new messages are dropped. */
export const STREAM_BUFFER_BYTES_MAX = 32 * 1024 * 1024;
/** The largest frame a receiver accepts (a single-leader snapshot travels in one frame). */
export const FRAME_PAYLOAD_BYTES_MAX = 128 * 1024 * 1024;

export type TransportStats = PeerStreamSenderStats;

export class PeerTransport<M> {
  private readonly sender: PeerStreamSender<M>;

  constructor(self: string, urls: ReadonlyMap<string, string>) {
    this.sender = new PeerStreamSender<M>({
      ...PEER_STREAM,
      self,
      peers: urls,
      encode: encodeBatch,
      coalesce: 'tick',
      queueMessagesMax: QUEUE_PER_PEER_MAX,
      streamBufferBytesMax: STREAM_BUFFER_BYTES_MAX,
    });
  }

  get stats(): TransportStats {
    return this.sender.stats;
  }

  send(envelopes: readonly Envelope<M>[]): void {
    for (const { to, msg } of envelopes) this.sender.send(to, [msg]);
  }

  close(): Promise<void> {
    return this.sender.close();
  }
}
