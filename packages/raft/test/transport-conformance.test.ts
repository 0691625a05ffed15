// Every Transport runs the same conformance suite: the in-process LocalNetwork and the
// production HttpTransport (peer streams on loopback, receiving through registerRaftRoutes).
import { HttpTransport, LocalNetwork, type NodeId, type Transport } from '../src/index.js';
import { transportConformance } from './conformance/transport.js';
import { listenRaftApp } from './support/raft-app.js';

transportConformance('LocalNetwork', async () => {
  const network = new LocalNetwork();
  return { transport: (id) => network.transport(id), close: async () => {} };
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
