// The Transport contract, as one suite every implementation runs (abstract-level's style:
// `transportConformance(name, factory)` is called from each implementation's test file).
// A transport is best effort — it may drop, delay or reorder — but on a healthy network it
// delivers what was sent to the node it was addressed to, and it never corrupts a message.
import { afterEach, describe, expect, it } from 'vitest';
import { emptyMessage, type Message, type NodeId, type Transport } from '../../src/index.js';
import { until } from '../support/kv-machine.js';

export interface TransportNetwork {
  /** The transport of node `id` (each id asked for once). */
  transport(id: NodeId): Transport;
  close(): Promise<void>;
}

export type TransportFactory = (ids: NodeId[]) => Promise<TransportNetwork>;

type Inbox = { delivered: Message[]; snapshotFailed: NodeId[] };

function sample(from: NodeId, to: NodeId, n: number): Message {
  const m = emptyMessage('app', from, to, 3);
  m.logTerm = 2;
  m.index = 10 + n;
  m.commit = 9;
  m.context = `ctx-${n}`;
  m.entries = [
    { index: 11 + n, term: 3, type: 'normal', data: new Uint8Array([0, 1, 254, 255, n & 0xff]) },
    { index: 12 + n, term: 3, type: 'normal', data: new Uint8Array(0) },
  ];
  return m;
}

export function transportConformance(name: string, factory: TransportFactory): void {
  describe(`Transport conformance: ${name}`, () => {
    const networks: TransportNetwork[] = [];
    afterEach(async () => {
      for (const n of networks.splice(0)) await n.close();
    });

    const cluster = async (ids: NodeId[]) => {
      const network = await factory(ids);
      networks.push(network);
      const inboxes = new Map<NodeId, Inbox>();
      const transports = new Map<NodeId, Transport>();
      for (const id of ids) {
        const inbox: Inbox = { delivered: [], snapshotFailed: [] };
        inboxes.set(id, inbox);
        const t = network.transport(id);
        t.start({
          deliver: (messages) => inbox.delivered.push(...messages),
          snapshotFailed: (to) => inbox.snapshotFailed.push(to),
        });
        transports.set(id, t);
      }
      return { inboxes, transports };
    };

    it('delivers a message to the node it is addressed to, every field intact', async () => {
      const { inboxes, transports } = await cluster(['a', 'b', 'c']);
      const m = sample('a', 'b', 1);
      transports.get('a')?.send([m]);
      await until('b receives', () => (inboxes.get('b')?.delivered.length ?? 0) > 0);
      const got = inboxes.get('b')?.delivered[0];
      expect(got?.type).toBe('app');
      expect({ ...got, entries: undefined }).toEqual({ ...m, entries: undefined });
      expect(got?.entries.map((x) => [x.index, x.term, x.type, [...x.data]])).toEqual(
        m.entries.map((x) => [x.index, x.term, x.type, [...x.data]]),
      );
      expect(inboxes.get('c')?.delivered).toEqual([]);
      expect(inboxes.get('a')?.delivered).toEqual([]);
    });

    it('delivers every message of a burst to several peers on a healthy network', async () => {
      const { inboxes, transports } = await cluster(['a', 'b', 'c']);
      const sent: Message[] = [];
      for (let n = 0; n < 50; n++) sent.push(sample('a', n % 2 === 0 ? 'b' : 'c', n));
      transports.get('a')?.send(sent);
      await until(
        'all delivered',
        () => (inboxes.get('b')?.delivered.length ?? 0) + (inboxes.get('c')?.delivered.length ?? 0) === 50,
      );
      // Order is not promised: compare as sets, by the context each carries.
      const contexts = (id: NodeId) => (inboxes.get(id)?.delivered ?? []).map((m) => m.context).sort();
      expect(contexts('b')).toEqual(
        sent
          .filter((m) => m.to === 'b')
          .map((m) => m.context)
          .sort(),
      );
      expect(contexts('c')).toEqual(
        sent
          .filter((m) => m.to === 'c')
          .map((m) => m.context)
          .sort(),
      );
    });

    it('a message to a node it does not know is dropped without an exception', async () => {
      const { inboxes, transports } = await cluster(['a', 'b']);
      expect(() => transports.get('a')?.send([sample('a', 'nobody', 1)])).not.toThrow();
      transports.get('a')?.send([sample('a', 'b', 2)]);
      await until('b still receives', () => (inboxes.get('b')?.delivered.length ?? 0) > 0);
      expect(inboxes.get('b')?.delivered.map((m) => m.context)).toEqual(['ctx-2']);
    });

    it('a closed transport takes no more deliveries, and sending to it does not throw', async () => {
      const { inboxes, transports } = await cluster(['a', 'b']);
      await transports.get('b')?.close();
      expect(() => transports.get('a')?.send([sample('a', 'b', 1)])).not.toThrow();
      await new Promise((r) => setTimeout(r, 200));
      expect(inboxes.get('b')?.delivered).toEqual([]);
    });
  });
}
