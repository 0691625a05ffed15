// The chapter's metrics beside prom-client's defaults: requests by operation and status, and
// the replication state read from the node at scrape time (lag per follower or peer, epoch,
// the core's counters: read repairs, hints, conflicts, LWW discards, anti-entropy bytes).
import { Counter, Gauge, type Registry } from 'prom-client';
import type { StreamStats } from './http/cluster-routes.js';
import type { ModeNode } from './node/mode.js';
import type { TransportStats } from './node/transport.js';

export class ReplicationMetrics {
  readonly requests: Counter<'op' | 'status'>;

  constructor(
    registry: Registry,
    node: ModeNode,
    urls: ReadonlyMap<string, string>,
    transport: TransportStats,
    streams: StreamStats,
  ) {
    this.requests = new Counter({
      name: 'replication_requests_total',
      help: 'Key-value requests by operation and HTTP status',
      labelNames: ['op', 'status'] as const,
      registers: [registry],
    });
    new Gauge({
      name: 'replication_peer_lag',
      help: 'Replication lag towards each peer: entries or ms (single-leader), keys not acknowledged (multi-leader), hints held (leaderless)',
      labelNames: ['peer', 'measure'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const member of node.status(urls).members)
          for (const [measure, value] of Object.entries(member.lag ?? {}))
            if (typeof value === 'number') this.set({ peer: member.id, measure }, value);
      },
    });
    new Gauge({
      name: 'replication_epoch',
      help: 'Single-leader epoch (PostgreSQL timeline); 0 in the other modes',
      registers: [registry],
      collect() {
        this.set(node.status(urls).epoch ?? 0);
      },
    });
    new Gauge({
      name: 'replication_core_stat',
      help: "The replication core's own counters (reads, writes, readRepairs, conflictsDetected, ...)",
      labelNames: ['stat'] as const,
      registers: [registry],
      collect() {
        for (const [stat, value] of Object.entries(node.status(urls).stats)) this.set({ stat }, value);
      },
    });
    new Counter({
      name: 'replication_transport_messages_total',
      help: 'Peer messages this node sent, and dropped (queue full, stream not draining, no such peer): the cores resend on their timers',
      labelNames: ['outcome'] as const,
      registers: [registry],
      collect() {
        this.reset();
        this.inc({ outcome: 'sent' }, transport.messages);
        this.inc({ outcome: 'dropped' }, transport.dropped);
      },
    });
    new Gauge({
      name: 'replication_transport_stat',
      help: 'Peer streams: frames and bytes sent, dials and failed dials; streams accepted and open, frames received, bad frames, refused upgrades',
      labelNames: ['stat'] as const,
      registers: [registry],
      collect() {
        this.set({ stat: 'framesSent' }, transport.frames);
        this.set({ stat: 'bytesSent' }, transport.bytes);
        this.set({ stat: 'dials' }, transport.dials);
        this.set({ stat: 'dialFailures' }, transport.dialFailures);
        this.set({ stat: 'streamsAccepted' }, streams.streamsAccepted);
        this.set({ stat: 'streamsOpen' }, streams.streamsOpen);
        this.set({ stat: 'framesReceived' }, streams.frames);
        this.set({ stat: 'badFrames' }, streams.badFrames);
        this.set({ stat: 'refusedUpgrades' }, streams.refused);
      },
    });
  }
}
