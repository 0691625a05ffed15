// Dynamic partitioning through the controller log, in-process (one node, range scheme, one
// pre-split partition, --split-keys 40): a range that grows past 40 keys is split at a partition
// key by its owner's splitter; when deletes leave the two halves with fewer than a quarter of
// the limit together (MERGE_FRACTION), the splitter proposes a merge and every key is still
// there, in order, with versions that keep rising across both changes of shape.
import { pollUntil } from '@ddia/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compoundKey, type PartitionInfo } from '../src/core/index.js';
import { keyPath } from '../src/router/partitioned-client.js';
import { type InProcessCluster, startInProcess } from './support/in-process.js';

const SPLIT_KEYS = 40;
/** Two checks of the splitter (SPLIT_CHECK_MS) and then some, on a loaded machine. */
const SHAPE_CHANGE_MS = 30_000;

describe('automatic split and merge of range partitions', () => {
  let cluster: InProcessCluster;
  let url: string;
  const partitions = () => cluster.nodes[0]?.machine.config?.partitions ?? [];

  beforeAll(async () => {
    cluster = await startInProcess(1, [
      '--scheme',
      'range',
      '--partitions',
      '1',
      '--split-keys',
      String(SPLIT_KEYS),
    ]);
    url = cluster.urls[0] as string;
  }, 60_000);
  afterAll(() => cluster?.close());

  it('splits past --split-keys, merges back when small, and loses nothing', { timeout: 90_000 }, async () => {
    // 50 keys: 10 partition keys with 5 sort keys each (a split may not cut one in two).
    const keys = Array.from({ length: 50 }, (_, i) => compoundKey(`user${i % 10}`, `s${Math.floor(i / 10)}`));
    let maxVersion = 0;
    for (const key of keys) {
      const res = await fetch(`${url}${keyPath(key)}`, { method: 'PUT', body: `v-${key}` });
      expect(res.status).toBe(201);
      maxVersion = Math.max(maxVersion, ((await res.json()) as { version: number }).version);
    }
    await pollUntil(() => partitions().length === 2, { what: 'a split', timeoutMs: SHAPE_CHANGE_MS });
    const at = partitions()[1]?.range?.start as string;
    expect(at).toMatch(/^user\d$/); // a partition key, not a compound key
    const scan = async () =>
      ((await (await fetch(`${url}/kv?limit=1000`)).json()) as { items: { key: string; sort: string }[] })
        .items;
    expect((await scan()).length).toBe(50);

    // Shrink both halves to 6 keys in all (< 40 / 4), then wait for the merge.
    const kept = keys.filter((_, i) => i % 10 === 0 || i === 49); // user0 (left), user9 (right)
    for (const key of keys.filter((k) => !kept.includes(k))) {
      expect((await fetch(`${url}${keyPath(key)}`, { method: 'DELETE' })).status).toBe(204);
    }
    // The last version each half gave (their sequences went separate ways after the split).
    const halves = [compoundKey('user0', 's0'), compoundKey('user9', 's4')];
    const lastVersions: number[] = [];
    for (const key of halves) {
      const res = await fetch(`${url}${keyPath(key)}`, { method: 'PUT', body: `v-${key}` });
      lastVersions.push(((await res.json()) as { version: number; partition: number }).version);
    }
    await pollUntil(() => partitions().length === 1, { what: 'a merge', timeoutMs: SHAPE_CHANGE_MS });
    expect(partitions()[0]?.range).toEqual({ start: '', end: null });
    const items = await scan();
    expect(items.map((i) => compoundKey(i.key, i.sort))).toEqual([...kept].sort());
    for (const key of kept) expect(await (await fetch(`${url}${keyPath(key)}`)).text()).toBe(`v-${key}`);
    // Versions keep rising in the merged partition (its sequence is the larger of the two).
    const again = await fetch(`${url}${keyPath(kept[0] as string)}`, { method: 'PUT', body: 'again' });
    const version = ((await again.json()) as { version: number }).version;
    expect(version).toBeGreaterThan(Math.max(maxVersion, ...lastVersions));
  });
});

// Two nodes, range scheme, two pre-split ranges (every ASCII key in the first), --split-keys 40,
// --split-rps 50: twenty keys are far below the size limit, but reads of the last four at full
// speed split the range by load, at the median of the keys requested (not of the keys held).
// The split-off right half is then small and cold beside the other node's empty range: its owner
// asks the controller to colocate them (one moves), and the node holding both merges them.
describe('a load split, then a merge across owners', () => {
  let cluster: InProcessCluster;
  const partitions = () => cluster.nodes[0]?.machine.config?.partitions ?? [];
  const keys = Array.from({ length: 20 }, (_, i) => `k${String(i).padStart(3, '0')}`);
  const hot = keys.slice(16);

  beforeAll(async () => {
    cluster = await startInProcess(2, [
      '--scheme',
      'range',
      '--partitions',
      '2',
      '--split-keys',
      String(SPLIT_KEYS),
      '--split-rps',
      '50',
    ]);
  }, 60_000);
  afterAll(() => cluster?.close());

  it('splits a small hot range where its requests are, then merges the cold half with the neighbour on the other node', {
    timeout: 90_000,
  }, async () => {
    const [url1, url2] = cluster.urls as [string, string];
    for (const key of keys)
      expect((await fetch(`${url1}/kv/${key}`, { method: 'PUT', body: `v-${key}` })).status).toBe(201);
    const owner = partitions()[0]?.owner as string;
    const ownerUrl = cluster.urls[Number(owner.slice(1)) - 1] as string;

    // Read the four hot keys from 8 loops until the owner splits the range.
    let reading = true;
    const readers = Array.from({ length: 8 }, async (_, j) => {
      for (let n = j; reading; n++) {
        const res = await fetch(`${ownerUrl}/kv/${hot[n % hot.length]}`);
        expect(res.status).toBe(200);
        await res.arrayBuffer();
      }
    });
    await pollUntil(() => partitions().length === 3, { what: 'a load split', timeoutMs: SHAPE_CHANGE_MS });
    reading = false;
    await Promise.all(readers);
    const at = partitions()[1]?.range?.start as string;
    expect(hot.slice(1)).toContain(at); // inside the hot keys; a size split would cut at k010
    const view = (url: string) =>
      fetch(`${url}/cluster`).then((r) => r.json()) as Promise<{
        shapeChanges: { splitsBySize: number; splitsByLoad: number; merges: number; colocations: number };
        load: { partition: number; perSecond: number }[];
      }>;
    expect((await view(ownerUrl)).shapeChanges).toMatchObject({ splitsBySize: 0, splitsByLoad: 1 });

    // The right half (the hot keys from `at` on) and the other node's empty range: colocated,
    // then merged. The owner of two partitions gives, so the counts end one each.
    await pollUntil(() => partitions().length === 2 && partitions().every((p) => p.owner === p.target), {
      what: 'a merge across owners',
      timeoutMs: 2 * SHAPE_CHANGE_MS,
    });
    const [left, right] = partitions() as [PartitionInfo, PartitionInfo];
    expect([left.range, right.range]).toEqual([
      { start: '', end: at },
      { start: at, end: null },
    ]);
    expect(left.owner).not.toBe(right.owner);
    const views = [await view(url1), await view(url2)];
    expect(views.map((v) => v.shapeChanges.colocations).sort()).toEqual([0, 1]);
    expect(views.map((v) => v.shapeChanges.merges).sort()).toEqual([0, 1]);
    for (const key of keys) {
      for (const url of [url1, url2]) expect(await (await fetch(`${url}/kv/${key}`)).text()).toBe(`v-${key}`);
    }
  });
});
