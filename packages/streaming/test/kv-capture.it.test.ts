// Change data capture from the lab's kv-store (a real process, started by testkit's harness)
// into a compacted topic of our broker; a derived view (a TopicView, the table read from the
// topic) follows the store: after writes, overwrites and deletes it equals the store's own
// listing. A restarted capture learns from its topic what it already published and sends only
// what changed while it was down.
import { fileURLToPath } from 'node:url';
import { HttpClient } from '@ddia/common';
import { type Cluster, startCluster } from '@ddia/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KvChangeCapture, type KvChangeEvent } from '../src/cdc/kv-capture.js';
import type { BrokerNode } from '../src/node.js';
import { TopicView } from '../src/streams/view.js';
import { kafkaClient, removeTempDir, startBroker, tempDir, waitFor } from './support/broker.js';

const KV_MAIN = fileURLToPath(new URL('../../kv-store/dist/main.js', import.meta.url));
const http = new HttpClient();
let cluster: Cluster;
let kvUrl: string;
let dir: string;
let node: BrokerNode;

beforeAll(async () => {
  cluster = await startCluster({
    nodes: 1,
    readyTimeoutMs: 60_000,
    command: (spec) => ({ args: [KV_MAIN, ...spec.flags, '--log-level', 'warn'] }),
  });
  kvUrl = cluster.urls()[0]!;
  dir = await tempDir();
  node = await startBroker(dir);
}, 90_000);

afterAll(async () => {
  await node?.close();
  await removeTempDir(dir);
  await cluster?.close();
  await http.close();
});

const put = (key: string, value: string) =>
  http.request(`${kvUrl}/kv/${key}`, {
    method: 'PUT',
    body: value,
    headers: { 'content-type': 'application/octet-stream' },
  });
const del = (key: string) => http.request(`${kvUrl}/kv/${key}`, { method: 'DELETE' });

/** The store's own view: key -> value, read back through its listing. */
async function storeState(): Promise<Map<string, string>> {
  const page = (await http.request(`${kvUrl}/kv?limit=1000`)).json<{
    items: { key: string; value: string }[];
  }>();
  return new Map(page.items.map((i) => [i.key, i.value]));
}

describe('change data capture: kv-store -> topic -> derived view', () => {
  it('the view follows writes, overwrites and deletes; a restarted capture sends only what changed', async () => {
    const kafka = kafkaClient(node.bootstrap, 'cdc');
    const topic = 'kv-changes';
    for (let i = 0; i < 30; i++) await put(`user/${i}`, `v0-${i}`);
    const capture = new KvChangeCapture({ kafka, kvUrl, topic, prefix: 'user/' });
    await capture.start();
    expect(await capture.poll()).toMatchObject({ upserts: 30, deletes: 0 });
    expect(await capture.poll()).toMatchObject({ upserts: 0, deletes: 0 }); // nothing changed

    for (let i = 0; i < 10; i++) await put(`user/${i}`, `v1-${i}`); // overwrites
    for (let i = 25; i < 30; i++) await del(`user/${i}`);
    await put('other/ignored', 'x'); // outside the prefix
    expect(await capture.poll()).toMatchObject({ upserts: 10, deletes: 5 });
    await capture.stop();

    // Changes while the capture is down, then a new capture on the same topic.
    await put('user/3', 'v2-3');
    await del('user/4');
    await put('user/99', 'new');
    const again = new KvChangeCapture({ kafka, kvUrl, topic, prefix: 'user/' });
    await again.start();
    expect(await again.poll()).toMatchObject({ upserts: 2, deletes: 1 });
    await again.stop();

    // The derived view: the topic read as a table equals the store.
    const view = new TopicView<Map<string, string>>({
      kafka,
      topic,
      groupId: 'cdc-view',
      initial: new Map(),
      apply: (m, key, value) => {
        if (value === null) m.delete(key!);
        else m.set(key!, (value as KvChangeEvent).value);
        return m;
      },
    });
    await view.start();
    const expected = new Map([...(await storeState())].filter(([k]) => k.startsWith('user/')));
    expect(expected.size).toBe(25 - 1 + 1);
    await waitFor(
      'the view to follow the store',
      () => view.state.size === expected.size && view.state.get('user/3') === 'v2-3',
    );
    expect(view.state).toEqual(expected);
    await view.stop();
  }, 120_000);
});
