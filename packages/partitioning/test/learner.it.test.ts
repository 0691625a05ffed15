// A move's target is fed every write made during the copy (replicas/learners.ts), so the flip
// finds nothing left to copy. In-process, two nodes (hash scheme, 2 partitions); n2 leaves, so
// its partition moves to n1. The move is held between its copy and its freeze (the
// `moveCopied` hook); keys written (and one deleted) in that window must already be so in the target's store, with
// the owner's versions, before the freeze — without the feed they arrive only with the final
// pull — and after the flip the new owner serves them, the final pull having copied none.
import { pollUntil } from '@ddia/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionIndexOf } from '../src/core/index.js';
import { type InProcessCluster, startInProcess } from './support/in-process.js';

const KEYS_DURING_COPY = 20;

describe('writes during a move are fed to its target', () => {
  let cluster: InProcessCluster;
  let release: () => void = () => undefined;
  let held: (partition: number) => void = () => undefined;
  const copyDone = new Promise<number>((resolve) => {
    held = resolve;
  });

  beforeAll(async () => {
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    cluster = await startInProcess(2, ['--scheme', 'hash', '--partitions', '2'], undefined, {
      moveCopied: async (partition) => {
        held(partition);
        await gate;
      },
    });
  }, 60_000);
  afterAll(async () => {
    release();
    await cluster?.close();
  });

  it('keys written during the copy are at the new owner before the flip', { timeout: 60_000 }, async () => {
    const [n1, n2] = cluster.nodes as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
    const config = () => n1.machine.config;
    const owned = (key: string) => config()?.partitions[partitionIndexOf(config() ?? never(), key)]?.owner;
    // Keys of n2's partition: the one that moves.
    const keys = Array.from({ length: 400 }, (_, i) => `k${i}`)
      .filter((k) => owned(k) === 'n2')
      .slice(0, KEYS_DURING_COPY * 2);
    expect(keys.length).toBe(KEYS_DURING_COPY * 2);
    const before = keys.slice(0, KEYS_DURING_COPY);
    const during = keys.slice(KEYS_DURING_COPY);
    for (const key of before) expect((await put(n2.url, key, 'old')).status).toBe(201);

    const left = await fetch(`${n1.url}/cluster/nodes/n2`, { method: 'DELETE' });
    expect(left.status).toBe(202);
    const partition = await copyDone;
    const copiedAtHold = await metric(n1.url, 'partitioning_keys_copied_total');
    expect(copiedAtHold).toBeGreaterThanOrEqual(KEYS_DURING_COPY); // the snapshot

    // The copy is done and the partition not frozen yet: n2 still serves its writes.
    const versions = new Map<string, number>();
    for (const key of [...during, ...before.slice(0, 5)]) {
      const res = await put(n2.url, key, 'new');
      expect(res.headers.get('x-owner')).toBe('n2');
      versions.set(key, ((await res.json()) as { version: number }).version);
    }
    // A delete is fed too (as a delete: not as a put of an empty value).
    const deleted = before[KEYS_DURING_COPY - 1] as string;
    expect((await fetch(`${n2.url}/kv/${deleted}`, { method: 'DELETE' })).status).toBe(204);
    expect(await n1.node.store.get(partition, deleted)).toBeUndefined();
    // Already in the target's store, each at the version the owner gave it.
    for (const [key, version] of versions) {
      const entry = await n1.node.store.get(partition, key);
      expect(entry?.version, key).toBe(version);
      expect(Buffer.from(entry?.value ?? []).toString('utf8')).toBe('new');
    }
    expect(await metric(n1.url, 'partitioning_keys_fed_total')).toBe(versions.size + 1);

    release();
    await pollUntil(() => config()?.partitions.find((p) => p.id === partition)?.owner === 'n1', {
      what: 'the flip',
      timeoutMs: 30_000,
      intervalMs: 20,
    });
    // The final pull had nothing to copy.
    expect(await metric(n1.url, 'partitioning_keys_copied_total')).toBe(copiedAtHold);
    for (const key of keys) {
      const res = await fetch(`${n1.url}/kv/${key}`);
      expect(res.headers.get('x-owner')).toBe('n1');
      if (key === deleted) expect(res.status).toBe(404);
      else expect(await res.text()).toBe(versions.has(key) ? 'new' : 'old');
    }
  });
});

function never(): never {
  throw new Error('no configuration');
}

function put(url: string, key: string, value: string): Promise<Response> {
  return fetch(`${url}/kv/${key}`, { method: 'PUT', body: value });
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}
