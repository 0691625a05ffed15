// The service as real processes (dist/main.js): the kv-store's client API on any node with
// forwarding to the owner, bad input as problem+json, and a node joining and another leaving
// while a client keeps writing: afterwards every acknowledged write reads back with its value
// from every node (no key lost by a move). Scheme-aware expectations: with fixed hash
// partitions the balancer keeps the nodes within one partition of each other; with consistent
// hashing the ring decides, and a node gets whatever arcs its tokens cover (here 1 of 8 for n4),
// so the test waits for exactly the ring's assignment instead of a balanced one.
// The cluster keeps two copies of each partition (--replicas 2), so the joins, leaves and moves
// above run with followers, and the last test kills a node: its partitions go to their
// followers and no acknowledged write is lost.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from '@ddia/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ringSlotOwners, type Scheme, VNODES_DEFAULT } from '../src/core/index.js';
import { PartitionedClient } from '../src/router/partitioned-client.js';

const MAIN = new URL('../dist/main.js', import.meta.url).pathname;
const PARTITIONS = 8;
// By default the ring (consistent-hash): the fixed-hash scheme's join and leave run in
// moves.it.test.ts under faults, and one real-process cluster fewer keeps the suite lean.
// PART_SCHEME=hash|range runs this file on another scheme by hand.
const SCHEMES: Scheme[] = process.env.PART_SCHEME ? [process.env.PART_SCHEME as Scheme] : ['consistent-hash'];

/** The owner counts the scheme should end with, as sorted counts or exact owners. */
function expectedOwners(scheme: Scheme, nodes: string[]): { counts: number[] } | { owners: string[] } {
  if (scheme === 'consistent-hash') return { owners: ringSlotOwners(nodes, PARTITIONS, VNODES_DEFAULT) };
  const base = Math.floor(PARTITIONS / nodes.length);
  const extra = PARTITIONS % nodes.length;
  return { counts: nodes.map((_, i) => base + (i < extra ? 1 : 0)).sort() };
}

function matches(expected: ReturnType<typeof expectedOwners>, owners: string[]): boolean {
  if ('owners' in expected) return JSON.stringify(owners) === JSON.stringify(expected.owners);
  const counts = new Map<string, number>();
  for (const owner of owners) counts.set(owner, (counts.get(owner) ?? 0) + 1);
  return JSON.stringify([...counts.values()].sort()) === JSON.stringify(expected.counts);
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 40_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const cluster = async (url: string) =>
  (await (await fetch(`${url}/cluster`)).json()) as {
    epoch: number;
    nodes: { id: string }[];
    partitions: { owner: string }[];
    moves: { pending: unknown[] };
  };

describe.each(SCHEMES)('partitioning service (3 real processes, %s scheme, 8 partitions)', (scheme) => {
  const dir = mkdtempSync(join(tmpdir(), 'ddia-part-'));
  const procs = new Map<string, ChildProcess>();
  let urls: Record<string, string> = {};

  function startNode(id: string, port: number, peers: string, join = false): void {
    const args = [MAIN, '--id', id, '--port', String(port), '--peers', peers, '--data-dir', `${dir}/${id}`];
    args.push('--scheme', scheme, '--partitions', String(PARTITIONS), '--log-level', 'warn');
    // A generous failure timeout: a node merely slow on a loaded machine must not be failed
    // over in the middle of the join and leave (the owners would then differ from the ring's).
    args.push('--replicas', '2', '--failover-ms', '5000');
    if (join) args.push('--join');
    procs.set(id, spawn(process.execPath, args, { stdio: 'ignore' }));
  }

  /** The routing tier: seeded with n1 and n2 (n2 leaves during the test; n1 stays). */
  function startRouter(): void {
    const port = new URL(urls.r1 as string).port;
    const args = [MAIN, '--router', '--id', 'r1', '--port', port, '--seeds', `${urls.n2},${urls.n1}`];
    args.push('--log-level', 'warn', '--refresh-ms', '60000');
    procs.set('r1', spawn(process.execPath, args, { stdio: 'ignore' }));
  }

  beforeAll(async () => {
    const ports = await freePorts(5);
    urls = Object.fromEntries(ports.map((p, i) => [i === 4 ? 'r1' : `n${i + 1}`, `http://127.0.0.1:${p}`]));
    const peers = ['n1', 'n2', 'n3'].map((id) => `${id}=${urls[id]}`).join(',');
    for (const id of ['n1', 'n2', 'n3']) startNode(id, Number(new URL(urls[id] as string).port), peers);
    startRouter();
    await waitFor(async () => (await cluster(urls.n1 as string)).epoch >= 1);
    await waitFor(async () => (await fetch(`${urls.r1}/ready`)).ok);
  }, 120_000);

  afterAll(() => {
    for (const p of procs.values()) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('PUT on one node, GET on another, DELETE on a third; the owner is named', async () => {
    const put = await fetch(`${urls.n1}/kv/hello`, { method: 'PUT', body: 'world' });
    expect(put.status).toBe(201);
    const owner = put.headers.get('x-owner');
    for (const id of ['n1', 'n2', 'n3']) {
      const got = await fetch(`${urls[id]}/kv/hello`);
      expect(got.status).toBe(200);
      expect(await got.text()).toBe('world');
      expect(got.headers.get('x-owner')).toBe(owner);
    }
    const scan = (await (await fetch(`${urls.n2}/kv?limit=10`)).json()) as { items: { key: string }[] };
    expect(scan.items.map((i) => i.key)).toContain('hello');
    expect((await fetch(`${urls.n3}/kv/hello`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${urls.n1}/kv/hello`)).status).toBe(404);
  });

  it("the controller's Raft state is on /metrics under kv-store's names (monitoring's Raft page reads them)", async () => {
    const metric = (text: string, name: string) => {
      const m = text.match(new RegExp(`^partitioning_controller_${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm'));
      return m ? Number(m[1]) : undefined;
    };
    // Read until every node has applied what it knows to be committed (the log is quiet by now).
    type RaftRow = Record<'term' | 'commit' | 'applied' | 'leader' | 'changes', number | undefined> & {
      text: string;
    };
    let nodes: RaftRow[] = [];
    await waitFor(async () => {
      const texts = await Promise.all(
        ['n1', 'n2', 'n3'].map(async (id) => (await fetch(`${urls[id]}/metrics`)).text()),
      );
      const read = texts.map((text) => ({
        text,
        term: metric(text, 'raft_term'),
        commit: metric(text, 'raft_commit_index'),
        applied: metric(text, 'applied_index'),
        leader: metric(text, 'raft_is_leader'),
        changes: metric(text, 'leader_changes_total'),
      }));
      const settled = read.every((n) => n.applied === n.commit && n.term === read[0]!.term);
      nodes = read;
      return settled && read.filter((n) => n.leader === 1).length === 1;
    });
    const view = (await (await fetch(`${urls.n1}/cluster`)).json()) as {
      controller: { leader: string; term: number };
    };
    const leaderIndex = nodes.findIndex((n) => n.leader === 1);
    expect(nodes[0]!.term).toBe(view.controller.term);
    expect(`n${leaderIndex + 1}`).toBe(view.controller.leader);
    for (const n of nodes) {
      expect(n.commit).toBeGreaterThan(0);
      expect(n.changes).toBeGreaterThanOrEqual(1);
    }
    // Only the leader reports each follower's lag.
    const lag = [
      ...nodes[leaderIndex]!.text.matchAll(
        /^partitioning_controller_follower_lag_entries\{[^}]*follower="(n\d)"[^}]*\} (\d+)$/gm,
      ),
    ];
    expect(lag.map((m) => m[1]).sort()).toEqual(['n1', 'n2', 'n3'].filter((_, i) => i !== leaderIndex));
    for (const n of nodes.filter((_, i) => i !== leaderIndex))
      expect(n.text).not.toMatch(/^partitioning_controller_follower_lag_entries\{/m);
  });

  it('the router sends each key to its owner; a PartitionedClient does the same in-process', async () => {
    const put = await fetch(`${urls.r1}/kv/router-key`, { method: 'PUT', body: 'via-router' });
    expect(put.status).toBe(201);
    expect(put.headers.get('x-routed-by')).toBe('r1');
    const client = new PartitionedClient({ seeds: [urls.n3 as string] });
    try {
      const located = await client.locate('router-key');
      // The router answered from the owner the client computes from the same configuration.
      expect(put.headers.get('x-owner')).toBe(located.partition.owner);
      const got = await client.get('router-key');
      expect(got.status).toBe(200);
      expect(got.text()).toBe('via-router');
      expect((await client.put('client-key', 'direct')).status).toBe(201);
    } finally {
      await client.close();
    }
    expect(await (await fetch(`${urls.r1}/kv/client-key`)).text()).toBe('direct');
    const scan = (await (await fetch(`${urls.r1}/kv?limit=10`)).json()) as { items: { key: string }[] };
    expect(scan.items.map((i) => i.key)).toEqual(expect.arrayContaining(['client-key', 'router-key']));
    const cond = await fetch(`${urls.r1}/kv/x`, {
      method: 'PUT',
      body: 'v',
      headers: { 'if-match': 'nope' },
    });
    expect(cond.status).toBe(400);
    expect(cond.headers.get('content-type')).toContain('application/problem+json');
    const big = await fetch(`${urls.r1}/kv/${'k'.repeat(2000)}`);
    expect(big.status).toBe(413);
  });

  it('bad input answers 4xx problem+json', async () => {
    const big = await fetch(`${urls.n1}/kv/${'k'.repeat(2000)}`, { method: 'PUT', body: 'v' });
    expect(big.status).toBe(413);
    expect(big.headers.get('content-type')).toContain('application/problem+json');
    const cond = await fetch(`${urls.n1}/kv/x`, {
      method: 'PUT',
      body: 'v',
      headers: { 'if-match': 'nope' },
    });
    expect(cond.status).toBe(400);
    const join = await fetch(`${urls.n1}/cluster/nodes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'bad id!', url: 'ftp://x' }),
    });
    expect(join.status).toBe(400);
    const leave = await fetch(`${urls.n1}/cluster/nodes/nobody`, { method: 'DELETE' });
    expect(leave.status).toBe(409);
  });

  it('a node joins and another leaves under a write workload; no acknowledged write is lost', async () => {
    const acked = new Map<string, string>();
    // Values written after the last acknowledged one whose outcome is unknown (504, dropped).
    const maybe = new Map<string, string[]>();
    let stop = false;
    let seq = 0;
    // Writers 1 and 2 go through any node (forwarding), 3 through the router tier, 4 with a
    // PartitionedClient (client-side routing, seeded only with n2, which leaves).
    const direct = new PartitionedClient({ seeds: [urls.n2 as string] });
    const statuses: number[] = [];
    const writer = async (w: number) => {
      const nodes = ['n1', 'n3'];
      while (!stop) {
        const key = `w${w}-${seq++ % 150}`;
        const value = `v${seq}`;
        const status =
          w === 4
            ? await direct.put(key, value).then(
                (r) => r.status,
                () => 0,
              )
            : await fetch(`${w === 3 ? urls.r1 : urls[nodes[seq % 2] as string]}/kv/${key}`, {
                method: 'PUT',
                body: value,
              }).then(
                (r) => r.status,
                () => 0,
              );
        if (status === 200 || status === 201) {
          acked.set(key, value);
          maybe.delete(key);
        } else {
          if (status !== 0) statuses.push(status);
          maybe.set(key, [...(maybe.get(key) ?? []), value]);
          if (status === 0) await new Promise((r) => setTimeout(r, 50));
        }
      }
    };
    const writers = [writer(1), writer(2), writer(3), writer(4)];
    const peers = ['n1', 'n2', 'n3', 'n4'].map((id) => `${id}=${urls[id]}`).join(',');
    startNode('n4', Number(new URL(urls.n4 as string).port), peers, true);
    await waitFor(async () => (await fetch(`${urls.n4}/health`)).ok || true);
    await waitFor(async () => {
      const res = await fetch(`${urls.n2}/cluster/nodes`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'n4', url: urls.n4 }),
      });
      return res.status === 202;
    });
    await waitFor(async () => {
      const c = await cluster(urls.n1 as string);
      const owners = c.partitions.map((p) => p.owner);
      return (
        c.moves.pending.length === 0 && matches(expectedOwners(scheme, ['n1', 'n2', 'n3', 'n4']), owners)
      );
    });
    // The router is stateless: killed and restarted mid-workload, it loses nothing.
    procs.get('r1')?.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    startRouter();
    expect((await fetch(`${urls.n1}/cluster/nodes/n2`, { method: 'DELETE' })).status).toBe(202);
    await waitFor(async () => {
      const c = await cluster(urls.n1 as string);
      return c.moves.pending.length === 0 && !c.nodes.some((n) => n.id === 'n2');
    });
    // The cluster has settled: the owners are what the scheme says for n1, n3, n4.
    await waitFor(async () => (await fetch(`${urls.r1}/ready`)).ok);
    stop = true;
    await Promise.all(writers);
    expect(acked.size).toBeGreaterThan(50);
    for (const status of statuses) expect([503, 504]).toContain(status);
    for (const w of [3, 4]) expect([...acked.keys()].some((k) => k.startsWith(`w${w}-`))).toBe(true);
    const owners = (await cluster(urls.n1 as string)).partitions.map((p) => p.owner);
    expect(matches(expectedOwners(scheme, ['n1', 'n3', 'n4']), owners), owners.join(',')).toBe(true);
    for (const [key, value] of acked) {
      for (const id of ['n1', 'r1']) {
        const got = await fetch(`${urls[id]}/kv/${key}`);
        expect(got.status, `${key} on ${id}`).toBe(200);
        expect([value, ...(maybe.get(key) ?? [])], `${key} on ${id}`).toContain(await got.text());
      }
      const got = await direct.get(key);
      expect(got.status, `${key} by the partitioned client`).toBe(200);
      expect([value, ...(maybe.get(key) ?? [])], `${key} by the partitioned client`).toContain(got.text());
    }
    // Its seed left the cluster, yet it followed the moves: it re-read the assignment from the
    // nodes it had learned (at least once after its first read, since partitions changed owner).
    expect(direct.stats.configRefreshes).toBeGreaterThan(1);
    expect(direct.config?.nodes.some((n) => n.id === 'n2')).toBe(false);
    await direct.close();
  }, 120_000);

  it('a node killed with SIGKILL loses no acknowledged write; its followers take its partitions', async () => {
    type View = { partitions: { owner: string; replicas?: string[] }[] };
    const view = async () => (await (await fetch(`${urls.n1}/cluster`)).json()) as View;
    // Settled after the join and leave: every partition has its follower (n1, n3, n4 remain).
    await waitFor(async () => (await view()).partitions.every((p) => p.replicas?.length === 1), 60_000);
    const victim = 'n3';
    expect((await view()).partitions.some((p) => p.owner === victim)).toBe(true);
    const acked = new Map<string, { value: string; owner: string | null }>();
    let running = true;
    let killed = false;
    let ackedAfterKill = 0;
    const writer = async (name: string, via: string) => {
      for (let i = 0; running; i++) {
        const key = `${name}-${i}`;
        try {
          const res = await fetch(`${via}/kv/${key}`, {
            method: 'PUT',
            body: `v-${key}`,
            signal: AbortSignal.timeout(15_000),
          });
          await res.arrayBuffer();
          if (res.status !== 201) continue;
          acked.set(key, { value: `v-${key}`, owner: res.headers.get('x-owner') });
          if (killed && res.headers.get('x-owner') !== victim) ackedAfterKill++;
        } catch {
          // Unknown outcome (a timeout): not acknowledged, not checked.
        }
      }
    };
    const writers = [writer('k1', urls.n1 as string), writer('k4', urls.n4 as string)];
    try {
      await waitFor(async () => [...acked.values()].filter((a) => a.owner === victim).length >= 5);
      procs.get(victim)?.kill('SIGKILL');
      killed = true;
      // The controller leader takes n3 for dead: its partitions go to their followers, and each
      // owner copies its partitions to a live node until every partition has two copies again.
      await waitFor(async () =>
        (await view()).partitions.every(
          (p) => p.owner !== victim && p.replicas?.length === 1 && !p.replicas.includes(victim),
        ),
      );
      await waitFor(async () => ackedAfterKill >= 10);
    } finally {
      running = false;
      await Promise.all(writers);
    }
    const lost: string[] = [];
    for (const [key, { value }] of acked) {
      for (const id of ['n1', 'n4']) {
        const res = await fetch(`${urls[id]}/kv/${key}`, { signal: AbortSignal.timeout(15_000) });
        const body = await res.text();
        if (res.status !== 200 || body !== value) lost.push(`${key} via ${id}: ${res.status} ${body}`);
      }
    }
    expect(lost).toEqual([]);
    // Among them, writes the dead node acknowledged as the owner, now read from its follower.
    expect([...acked.values()].filter((a) => a.owner === victim).length).toBeGreaterThanOrEqual(5);
  }, 180_000);
});
