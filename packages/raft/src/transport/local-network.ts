// An in-process network of real drivers (real timers, real storage, no sockets): each node
// gets a Transport whose messages are delivered on a later turn of the event loop. Links can
// be cut to test failover of the driver layer.
import type { NodeId } from '../core/types.js';
import type { Transport } from './transport.js';

type Handlers = Parameters<Transport['start']>[0];

export class LocalNetwork {
  private readonly handlers = new Map<NodeId, Handlers>();
  private readonly cut = new Set<string>();
  delivered = 0;

  transport(self: NodeId): Transport {
    return {
      start: (handlers) => {
        this.handlers.set(self, handlers);
      },
      send: (messages) => {
        for (const m of messages) {
          setImmediate(() => {
            if (this.cut.has(`${m.from}>${m.to}`)) {
              if (m.type === 'snap') this.handlers.get(m.from)?.snapshotFailed(m.to);
              return;
            }
            const target = this.handlers.get(m.to);
            if (!target) return;
            this.delivered++;
            target.deliver([m]);
          });
        }
      },
      setPeers: () => {},
      close: async () => {
        this.handlers.delete(self);
      },
    };
  }

  /** Cut every link between `id` and the others, both directions. */
  isolate(id: NodeId, others: NodeId[]): void {
    for (const o of others) {
      this.cut.add(`${id}>${o}`);
      this.cut.add(`${o}>${id}`);
    }
  }

  heal(): void {
    this.cut.clear();
  }
}
