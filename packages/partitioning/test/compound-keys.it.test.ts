// Compound keys through the HTTP API, on two in-process nodes per scheme: PUT /kv/<pk>?sort=<sk>
// from either node (forwarded to the owner), every sort key of one partition key lands in the
// partition the partition key alone maps to, GET /kv?partition=<pk>&start=&end= asks that one
// partition and answers its sort keys in order (and none of a neighbouring partition key's),
// a PartitionedClient routes compound keys itself, and bad parts are 4xx problem+json.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compoundKey, SCHEMES, type Scheme } from '../src/core/index.js';
import { PartitionedClient } from '../src/router/partitioned-client.js';
import { type InProcessCluster, startInProcess } from './support/in-process.js';

const PARTITIONS = 8;
/** Fixed hash partitions, where one partition out of eight is the point; the range scheme's
 *  compound keys run in split-merge.it.test.ts, the ring's routing is the pure property in
 *  compound-key.test.ts (all three here with DDIA_LONG=1). */
const RUN_SCHEMES: readonly Scheme[] = process.env.DDIA_LONG === '1' ? SCHEMES : ['hash'];
/** Sort keys written out of order: the scan must answer them sorted. */
const SORT_KEYS = ['2026-03-01', '2026-01-15', '2026-02-28', '2026-01-01', '2026-12-31', '2026-02-01'];

interface ScanAnswer {
  partitionsVisited: number;
  count: number;
  items: { key: string; sort?: string; value: string; version: number }[];
}

describe.each(RUN_SCHEMES)('compound keys, %s scheme', (scheme) => {
  let cluster: InProcessCluster;
  let n1: string;
  let n2: string;

  beforeAll(async () => {
    cluster = await startInProcess(2, ['--scheme', scheme, '--partitions', String(PARTITIONS)]);
    [n1, n2] = cluster.urls as [string, string];
  }, 60_000);
  afterAll(() => cluster?.close());

  it('every sort key of a partition key lands in its partition and scans in order from it', async () => {
    const homes = new Set<string>();
    for (const [i, sk] of SORT_KEYS.entries()) {
      const via = i % 2 === 0 ? n1 : n2;
      const put = await fetch(`${via}/kv/user42?sort=${encodeURIComponent(sk)}`, {
        method: 'PUT',
        body: `order ${sk}`,
      });
      expect(put.status).toBe(201);
      expect(await put.json()).toMatchObject({ key: 'user42', sort: sk, created: true });
      homes.add(put.headers.get('x-partition') as string);
    }
    // Neighbours in key order that must stay out of user42's scan.
    for (const key of ['user4', 'user420', 'user42x']) {
      expect((await fetch(`${n1}/kv/${key}?sort=2026-01-10`, { method: 'PUT', body: 'other' })).status).toBe(
        201,
      );
    }
    const plain = await fetch(`${n2}/kv/user42`, { method: 'PUT', body: 'the partition key alone' });
    expect(plain.status).toBe(201);
    // One partition, and the one the partition key alone maps to.
    expect([...homes]).toEqual([plain.headers.get('x-partition')]);

    const read = await fetch(`${n2}/kv/user42?sort=2026-02-28`);
    expect(read.status).toBe(200);
    expect(await read.text()).toBe('order 2026-02-28');

    for (const via of [n1, n2]) {
      const all = (await (await fetch(`${via}/kv?partition=user42`)).json()) as ScanAnswer;
      expect(all.partitionsVisited).toBe(1);
      expect(all.items.map((i) => i.sort)).toEqual([...SORT_KEYS].sort());
      expect(all.items.every((i) => i.key === 'user42' && i.value === `order ${i.sort}`)).toBe(true);
    }
    const page = (await (
      await fetch(`${n1}/kv?partition=user42&start=2026-01-15&end=2026-03-01&limit=2`)
    ).json()) as ScanAnswer & { more: boolean };
    expect(page.items.map((i) => i.sort)).toEqual(['2026-01-15', '2026-02-01']);
    expect(page.more).toBe(true);
    const none = (await (await fetch(`${n1}/kv?partition=nobody`)).json()) as ScanAnswer;
    expect(none.count).toBe(0);
  });

  it('a PartitionedClient sends a compound key straight to its owner', async () => {
    const client = new PartitionedClient({ seeds: [n2], name: 'compound-test' });
    try {
      const put = await client.put(compoundKey('cart:7', 'item:3'), 'socks');
      expect(put.status).toBe(201);
      const got = await client.get(compoundKey('cart:7', 'item:3'));
      expect(got.status).toBe(200);
      expect(got.body.toString()).toBe('socks');
      expect((await fetch(`${n1}/kv/cart:7?sort=item:3`)).status).toBe(200);
      expect((await client.delete(compoundKey('cart:7', 'item:3'))).status).toBe(204);
      expect((await fetch(`${n1}/kv/cart:7?sort=item:3`)).status).toBe(404);
      expect(client.stats.wrongOwnerAnswers).toBe(0);
    } finally {
      await client.close();
    }
  });

  it('missing or oversize parts answer 4xx problem+json', async () => {
    const cases: [string, RequestInit, number][] = [
      ['/kv/user42?sort=', { method: 'PUT', body: 'v' }, 400], // empty sort key
      ['/kv/user42?sort=a&sort=b', { method: 'PUT', body: 'v' }, 400], // two sort keys
      ['/kv/user%0042?sort=a', { method: 'PUT', body: 'v' }, 400], // the separator in a part
      ['/kv/user42?sort=a%00b', {}, 400],
      [`/kv/user42?sort=${'s'.repeat(1020)}`, { method: 'PUT', body: 'v' }, 413], // 6 + 1 + 1020 > 1024
      [`/kv/${'p'.repeat(1025)}?sort=a`, {}, 413],
      ['/kv?partition=', {}, 400], // empty partition key
      ['/kv?partition=a%00b', {}, 400],
      [`/kv?partition=user42&start=${'s'.repeat(1025)}`, {}, 413],
    ];
    for (const [path, init, status] of cases) {
      const response = await fetch(`${n1}${path}`, init);
      expect({ path, status: response.status }).toEqual({ path, status });
      expect(response.headers.get('content-type')).toContain('application/problem+json');
    }
    // Nothing was written by the refused requests.
    const scan = (await (await fetch(`${n1}/kv?partition=user42`)).json()) as ScanAnswer;
    expect(scan.items.map((i) => i.sort)).toEqual([...SORT_KEYS].sort());
  });
});
