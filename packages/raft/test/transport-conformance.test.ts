// Every Transport runs the same conformance suite: the in-process LocalNetwork, the
// simulation's SimNetwork (seeded delays, here on a healthy network), and the production
// HttpTransport (peer streams on loopback, receiving through registerRaftRoutes).
import { SeededRandom } from '@ddia/common';
import {
  HttpTransport,
  LocalNetwork,
  type Message,
  type NodeId,
  SimNetwork,
  type Transport,
} from '../src/index.js';
import { EventQueue } from '../src/sim/event-queue.js';
import { transportConformance } from './conformance/transport.js';
import { listenRaftApp } from './support/raft-app.js';

transportConformance('LocalNetwork', async () => {
  const network = new LocalNetwork();
  return { transport: (id) => network.transport(id), close: async () => {} };
});

transportConformance('SimNetwork', async () => {
  // The simulation's routing (seeded delivery times, reordering) behind the Transport
  // interface: a virtual clock jumps to each delivery's time, pumped off the event loop.
  const network = new SimNetwork(new SeededRandom(7));
  const queue = new EventQueue<Message>();
  const handlers = new Map<NodeId, Parameters<Transport['start']>[0]>();
  let nowMs = 0;
  let pumping = false;
  const pump = () => {
    pumping = false;
    for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
      nowMs = Math.max(nowMs, next.atMs);
      handlers.get(next.value.to)?.deliver([next.value]);
    }
  };
  return {
    transport: (id) => ({
      start: (h) => {
        handlers.set(id, h);
      },
      send: (messages) => {
        for (const m of messages) for (const d of network.route(m, nowMs)) queue.push(d.atMs, d.message);
        if (!pumping) {
          pumping = true;
          setImmediate(pump);
        }
      },
      setPeers: () => {},
      close: async () => {
        handlers.delete(id);
      },
    }),
    close: async () => {},
  };
});

transportConformance('HttpTransport', async (ids) => {
  // Incoming messages arrive at the routes; they hand them to the transport's handlers.
  const handlers = new Map<NodeId, Parameters<Transport['start']>[0]>();
  const apps = await Promise.all(
    ids.map(async (id) => ({
      id,
      ...(await listenRaftApp((messages) => handlers.get(id)?.deliver(messages))),
    })),
  );
  const peers = Object.fromEntries(apps.map((a) => [a.id, a.url]));
  const transports: HttpTransport[] = [];
  return {
    transport: (id) => {
      const inner = new HttpTransport({ self: id, peers });
      transports.push(inner);
      return {
        start: (h) => {
          handlers.set(id, h);
          inner.start(h);
        },
        send: (messages) => inner.send(messages),
        setPeers: (p) => inner.setPeers(p),
        close: async () => {
          handlers.delete(id);
          await inner.close();
        },
      };
    },
    close: async () => {
      for (const t of transports) await t.close();
      for (const a of apps) await a.app.close();
    },
  };
});
