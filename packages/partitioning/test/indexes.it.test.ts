// Secondary indexes and hot keys on three real processes (hash scheme, 8 partitions):
//   Figure 6-4: a local (document-partitioned) index answers from every partition
//               (partitionsAsked 8, one request per node), and is exact right after a write;
//   Figure 6-5: a global (term-partitioned) index answers from the one partition holding the
//               term (partitionsAsked 1), and catches up asynchronously (its lag is measured);
//   "Skewed Workloads": a declared hot counter is spread over salted sub-keys on several
//               partitions and read back as their sum; an undeclared hot key shows up first in
//               its owner's /cluster/hot-keys.
//   Online index creation: POST /indexes while writers keep updating and deleting documents;
//               once every owner reports its partitions built, the index equals the truth
//               computed from a scan of the documents (local at once, global eventually).
import { fileURLToPath } from 'node:url';
import { HttpClient } from '@ddia/common';
import { type Cluster, startCluster } from '@ddia/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const MAIN_JS = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const http = new HttpClient({ deadlineMs: 10_000, retries: 0 });
let cluster: Cluster;
let urls: string[] = [];

interface IndexAnswer {
  kind: string;
  keys: string[];
  partitionsAsked: number;
  nodesAsked: number;
}

async function until<T>(
  what: string,
  read: () => Promise<T>,
  ok: (value: T) => boolean,
  timeoutMs = 15_000,
): Promise<T> {
  const deadlineAt = performance.now() + timeoutMs;
  for (;;) {
    const value = await read().catch(() => undefined);
    if (value !== undefined && ok(value)) return value;
    if (performance.now() > deadlineAt)
      throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const query = (i: number, index: string, value: string) =>
  http.json<IndexAnswer>(`${urls[i % urls.length]}/indexes/${index}?value=${encodeURIComponent(value)}`);
const put = (i: number, key: string, doc: object) =>
  http.request(`${urls[i % urls.length]}/kv/${key}`, { method: 'PUT', body: JSON.stringify(doc) });

beforeAll(async () => {
  cluster = await startCluster({
    nodes: 3,
    readyTimeoutMs: 60_000,
    command: (spec) => ({
      args: [
        MAIN_JS,
        ...spec.flags,
        '--scheme',
        'hash',
        '--partitions',
        '8',
        '--indexes',
        'color=color:local,make=make:global',
        '--hot-keys',
        'likes',
        '--salt-buckets',
        '8',
        '--log-level',
        'warn',
      ],
    }),
  });
  urls = cluster.urls();
});

afterAll(async () => {
  await cluster?.close();
  await http.close();
});

describe('secondary indexes (Figures 6-4 and 6-5)', () => {
  it('local index: scatter/gather over all 8 partitions, exact at once; global: one partition, catches up', async () => {
    const cars = Array.from({ length: 24 }, (_, i) => ({
      key: `car${i}`,
      color: ['red', 'black', 'silver'][i % 3] as string,
      make: ['ford', 'audi', 'honda', 'dodge'][i % 4] as string,
    }));
    for (const [i, c] of cars.entries())
      expect((await put(i, c.key, { color: c.color, make: c.make })).status).toBe(201);
    const red = cars
      .filter((c) => c.color === 'red')
      .map((c) => c.key)
      .sort();
    // Local: read-your-writes, because the entry is written in the same batch as the document.
    const local = await query(1, 'color', 'red');
    expect(local.kind).toBe('local');
    expect(local.keys).toEqual(red);
    expect(local.partitionsAsked).toBe(8);
    expect(local.nodesAsked).toBe(3);
    // Global: one partition asked; eventually every ford is listed.
    const fords = cars
      .filter((c) => c.make === 'ford')
      .map((c) => c.key)
      .sort();
    const global = await until(
      'the global index to list every ford',
      () => query(2, 'make', 'ford'),
      (a) => a.keys.join() === fords.join(),
    );
    expect(global.kind).toBe('global');
    expect(global.partitionsAsked).toBe(1);
    expect(global.nodesAsked).toBe(1);

    // An update moves a document between terms in both indexes; a delete removes it.
    expect((await put(0, 'car0', { color: 'black', make: 'audi' })).status).toBe(200);
    expect((await query(0, 'color', 'red')).keys).not.toContain('car0');
    expect((await query(0, 'color', 'black')).keys).toContain('car0');
    await until(
      'car0 to leave the fords',
      () => query(1, 'make', 'ford'),
      (a) => !a.keys.includes('car0'),
    );
    await until(
      'car0 to join the audis',
      () => query(1, 'make', 'audi'),
      (a) => a.keys.includes('car0'),
    );
    expect((await http.request(`${urls[2]}/kv/car4`, { method: 'DELETE' })).status).toBe(204);
    await until(
      'car4 to leave the fords',
      () => query(2, 'make', 'ford'),
      (a) => !a.keys.includes('car4'),
    );
    expect((await query(2, 'color', 'black')).keys).not.toContain('car4');

    // The postings are store keys but not client keys: a scan does not show them.
    const scan = await http.json<{ items: { key: string }[] }>(`${urls[0]}/kv?limit=1000`);
    expect(scan.items.every((item) => item.key.startsWith('car'))).toBe(true);
    // The lag of the asynchronous index is measured.
    const metrics = (await Promise.all(urls.map((u) => http.request(`${u}/metrics`))))
      .map((r) => r.text())
      .join('\n');
    const counts = [
      ...metrics.matchAll(/^partitioning_global_index_lag_seconds_count(?:\{[^}]*\})? (\d+)/gm),
    ].map((m) => Number(m[1]));
    expect(counts.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(cars.length);
  });

  it('bad index input: unknown index 404, missing value 400, reserved keys 400, bad --indexes exits 2', async () => {
    const unknown = await http.request(`${urls[0]}/indexes/nope?value=x`);
    expect(unknown.status).toBe(404);
    expect(String(unknown.headers['content-type'])).toContain('application/problem+json');
    expect((await http.request(`${urls[0]}/indexes/color`)).status).toBe(400);
    expect((await http.request(`${urls[0]}/kv/%00g%00make`, { method: 'PUT', body: 'x' })).status).toBe(400);
    const { spawnSync } = await import('node:child_process');
    const bad = spawnSync(process.execPath, [MAIN_JS, '--port', '0', '--indexes', 'color=color:sideways'], {
      encoding: 'utf8',
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('indexes');
  });
});

describe('online secondary-index creation (build while writes continue)', () => {
  it('a local and a global index created under writes end consistent with the documents', async () => {
    const sizes = ['s', 'm', 'l', 'xl'];
    const docKey = (i: number) => `shirt${i}`;
    // Documents written before the indexes exist: only a backfill can find these.
    await Promise.all(
      Array.from({ length: 120 }, (_, i) => put(i, docKey(i), { size: sizes[i % 4], kind: 'shirt' })),
    );
    let stop = false;
    let writes = 0;
    const writer = async (w: number) => {
      for (let n = 0; !stop; n++) {
        const i = (w * 37 + n * 13) % 140; // also creates shirt120..139 during the build
        const url = `${urls[(w + n) % urls.length]}/kv/${docKey(i)}`;
        if (n % 7 === 3) await http.request(url, { method: 'DELETE' }).catch(() => undefined);
        else
          await http
            .request(url, {
              method: 'PUT',
              body: JSON.stringify({ size: sizes[(n + w) % 4], kind: 'shirt' }),
            })
            .catch(() => undefined);
        writes++;
      }
    };
    const writers = [writer(1), writer(2)];
    const create = async (name: string, kind: string) =>
      http.request(`${urls[0]}/indexes`, { method: 'POST', body: { name, field: 'size', kind } });
    const created = await create('size', 'local');
    expect(created.status, created.text()).toBe(202);
    expect((await create('sizeg', 'global')).status).toBe(202);
    // Duplicates and names declared by flag are refused; a bad kind is a 400.
    expect((await create('size', 'local')).status).toBe(409);
    expect((await create('color', 'local')).status).toBe(409);
    expect((await create('weight', 'clustered')).status).toBe(400);
    for (const name of ['size', 'sizeg']) {
      await until(
        `${name} built`,
        () => http.json<{ ready: boolean; partitionsBuilt: number }>(`${urls[2]}/indexes/${name}/status`),
        (s) => s.ready,
        60_000,
      );
    }
    // Keep writing a little after the build, then stop and compare with the truth.
    const at = writes;
    await until(
      'more writes',
      async () => writes,
      (n) => n > at + 20,
      30_000,
    );
    stop = true;
    await Promise.all(writers);
    const scan = await http.json<{ items: { key: string; value: string }[] }>(
      `${urls[1]}/kv?start=shirt&end=shirt~&limit=1000`,
    );
    const truth = new Map<string, string[]>(sizes.map((z) => [z, []]));
    for (const item of scan.items)
      truth.get((JSON.parse(item.value) as { size: string }).size)?.push(item.key);
    for (const z of sizes) {
      const expected = (truth.get(z) ?? []).sort();
      const local = await query(0, 'size', z);
      expect(
        local.keys.filter((k) => k.startsWith('shirt')),
        `local size=${z}`,
      ).toEqual(expected);
      await until(
        `global size=${z}`,
        () => query(1, 'sizeg', z),
        (a) => JSON.stringify(a.keys) === JSON.stringify(expected),
        // The outbox delivers one posting per request: generous for a loaded CI machine.
        60_000,
      );
    }
    const listed = await http.json<{ indexes: { name: string; source: string }[] }>(`${urls[2]}/indexes`);
    expect(listed.indexes.map((i) => `${i.name}:${i.source}`)).toEqual(
      expect.arrayContaining(['color:flag', 'size:online', 'sizeg:online']),
    );
  }, 240_000);
});

describe('hot keys (Skewed Workloads and Relieving Hot Spots)', () => {
  it('a declared hot counter is salted over several partitions and read back as the sum', async () => {
    const results = await Promise.all(
      Array.from({ length: 120 }, (_, i) =>
        http.json<{ counterKey: string; partition: number }>(`${urls[i % 3]}/counters/likes`, {
          method: 'POST',
          body: { by: 1 },
        }),
      ),
    );
    const partitions = new Set(results.map((r) => r.partition));
    const subKeys = new Set(results.map((r) => r.counterKey));
    expect(subKeys.size).toBeGreaterThan(4);
    expect(partitions.size).toBeGreaterThan(2);
    const read = await http.json<{
      value: number;
      salted: boolean;
      subKeys: number;
      partitionsAsked: number;
    }>(`${urls[1]}/counters/likes`);
    expect(read).toMatchObject({ value: 120, salted: true, subKeys: 8 });
    // The read visits all 8 sub-keys: as many partitions as they hash to (at least those written).
    expect(read.partitionsAsked).toBeGreaterThanOrEqual(partitions.size);
  });

  it("an undeclared hot key stays on one partition and tops its owner's hot-key list", async () => {
    let owner = '';
    for (let i = 0; i < 60; i++) {
      const r = await http.request(`${urls[i % 3]}/counters/views`, { method: 'POST', body: {} });
      expect(r.status).toBe(200);
      owner = String(r.headers['x-owner']);
      // Some background noise on other keys.
      if (i % 6 === 0) await http.request(`${urls[i % 3]}/kv/other${i}`, { method: 'PUT', body: 'x' });
    }
    expect((await http.json<{ value: number; salted: boolean }>(`${urls[0]}/counters/views`)).value).toBe(60);
    const ownerUrl = cluster.node(owner).url;
    const hot = await http.json<{ keys: { key: string; perSecond: number }[] }>(
      `${ownerUrl}/cluster/hot-keys?limit=3`,
    );
    expect(hot.keys[0]?.key).toBe('views');
    expect(hot.keys[0]?.perSecond).toBeGreaterThan(1);
    // Cluster-wide, from a node that does not own it: every node is asked, "views" is ranked
    // above the background keys with its whole rate on its owner, and the salted counter of
    // the test before shows as one key spread over several nodes.
    const other = urls.find((u) => u !== ownerUrl) as string;
    const all = await http.json<{
      nodesAsked: number;
      nodesAnswered: number;
      keys: {
        key: string;
        perSecond: number;
        nodes: Record<string, number>;
        subKeys?: number;
        hot: boolean;
      }[];
    }>(`${other}/cluster/hot-keys?scope=cluster&limit=20`);
    expect(all, JSON.stringify(all)).toMatchObject({ nodesAsked: 3, nodesAnswered: 3 });
    const views = all.keys.find((k) => k.key === 'views');
    expect(Object.keys(views?.nodes ?? {})).toEqual([owner]);
    expect(typeof views?.hot).toBe('boolean');
    expect(
      all.keys.filter((k) => k.key.startsWith('other')).every((k) => k.perSecond < (views?.perSecond ?? 0)),
    ).toBe(true);
    const likes = all.keys.find((k) => k.key === 'likes');
    expect(likes?.subKeys).toBeGreaterThan(4);
    expect(Object.keys(likes?.nodes ?? {}).length).toBeGreaterThan(1);
    expect((await http.request(`${other}/cluster/hot-keys?scope=everywhere`)).status).toBe(400);
    const notACounter = await http.request(`${urls[0]}/counters/other0`, { method: 'POST', body: {} });
    expect(notACounter.status).toBe(409);
  });
});
