// Two-phase commit with real processes: three transaction nodes and a coordinator, bank
// transfers across shards while the coordinator or a participant is SIGKILLed at each step
// of the protocol (chaos hooks, --chaos only). The total balance never changes and no
// transfer is half-applied; and while the coordinator is down, a prepared transaction
// blocks other writers of its rows (why 2PC is called a blocking protocol).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from '@ddia/testkit';
import { afterAll, describe, expect, it } from 'vitest';

const DIST = new URL('../dist/', import.meta.url).pathname;
const NODE_MAIN = join(DIST, 'main.js');
const COORDINATOR_MAIN = join(DIST, 'distributed/coordinator-main.js');
const ACCOUNTS = 6;
const INITIAL = 1000;

class Proc {
  child: ChildProcess | null = null;
  exited: Promise<void> = Promise.resolve();
  constructor(
    readonly name: string,
    readonly url: string,
    readonly args: string[],
  ) {}
  async start() {
    const child = spawn(process.execPath, this.args, { stdio: 'ignore' });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    for (let i = 0; i < 400; i++) {
      const ok = await fetch(`${this.url}/ready`)
        .then((r) => r.ok)
        .catch(() => false);
      if (ok) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${this.name} did not become ready`);
  }
  async kill(signal: NodeJS.Signals = 'SIGKILL') {
    this.child?.kill(signal);
    await this.exited;
    this.child = null;
  }
}

async function call(url: string, body?: unknown, method = 'POST') {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).catch(() => null);
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers of many shapes
  type Json = any;
  if (!res) return { status: 0, body: null as Json };
  return { status: res.status, body: (await res.json().catch(() => null)) as Json };
}

const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
});

describe.skipIf(!existsSync(COORDINATOR_MAIN))('two-phase commit across real processes', () => {
  it('keeps transfers atomic while nodes are killed at every step of the protocol', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ddia-2pc-'));
    const ports = await freePorts(4);
    const nodes = [0, 1, 2].map(
      (i) =>
        new Proc(`p${i}`, `http://127.0.0.1:${ports[i]}`, [
          NODE_MAIN,
          ...['--id', `p${i}`, '--port', String(ports[i]), '--data-dir', join(dir, `p${i}`), '--chaos'],
          ...['--log-level', 'warn', '--lock-timeout-ms', '1000', '--idle-timeout-ms', '3000'],
        ]),
    );
    const peers = nodes.map((n) => `${n.name}=${n.url}`).join(',');
    const coordinator = new Proc('coordinator', `http://127.0.0.1:${ports[3]}`, [
      COORDINATOR_MAIN,
      ...[
        '--id',
        'c',
        '--port',
        String(ports[3]),
        '--data-dir',
        join(dir, 'c'),
        '--participants',
        peers,
        '--chaos',
      ],
      ...['--log-level', 'warn'],
    ]);
    cleanup.push(async () => {
      for (const p of [...nodes, coordinator]) await p.kill();
      await rm(dir, { recursive: true, force: true });
    });
    for (const p of [...nodes, coordinator]) await p.start();
    for (const [i, n] of nodes.entries()) {
      await call(`${n.url}/tables`, { name: 'accounts', primaryKey: 'id' });
      await call(`${n.url}/tables`, { name: 'ledger', primaryKey: 'id' });
      for (let a = i; a < ACCOUNTS; a += nodes.length) {
        expect(
          (await call(`${n.url}/insert`, { table: 'accounts', row: { id: a, balance: INITIAL } })).status,
        ).toBe(200);
      }
    }

    let committed = 0;
    const transfer = async (from: number, to: number, amount: number) => {
      const r = await call(`${coordinator.url}/transfer`, { from, to, amount });
      if (r.status === 200) committed++;
      return r;
    };

    // The blocking experiment: the coordinator dies after every participant voted yes.
    await call(`${coordinator.url}/chaos/crash-at`, { point: 'after-prepares' });
    expect((await transfer(0, 1, 5)).status).toBe(0);
    await coordinator.exited;
    coordinator.child = null;
    const inDoubt = (await call(`${nodes[0]!.url}/prepared`, undefined, 'GET')).body.prepared;
    expect(inDoubt).toHaveLength(1);
    // Account 0's row is locked by the in-doubt transaction: a writer waits and times out.
    const blocked = await call(`${nodes[0]!.url}/update`, {
      table: 'accounts',
      where: 'id = 0',
      set: { balance: 'balance' },
    });
    expect(blocked.body.code).toBe('DDIA_ERR_TX_LOCK_TIMEOUT');
    await coordinator.start();
    for (
      let i = 0;
      i < 100 && (await call(`${nodes[0]!.url}/prepared`, undefined, 'GET')).body.prepared.length > 0;
      i++
    ) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await call(`${nodes[0]!.url}/prepared`, undefined, 'GET')).body.prepared).toEqual([]);

    const coordinatorPoints = [
      'after-execute',
      'after-first-prepare',
      'after-prepares',
      'after-decision',
      'after-first-commit',
    ];
    const participantPoints = ['prepare', 'commit-prepared'];
    const faults = [
      ...coordinatorPoints.map((point) => ({
        victim: coordinator,
        arm: () => call(`${coordinator.url}/chaos/crash-at`, { point }),
      })),
      ...participantPoints.flatMap((op) =>
        nodes.map((n) => ({ victim: n, arm: () => call(`${n.url}/chaos/crash-after`, { op }) })),
      ),
    ];
    let seq = 0;
    for (const fault of faults) {
      expect((await fault.arm()).status).toBe(200);
      // Concurrent transfers until the armed step kills the victim.
      let dead = false;
      void fault.victim.exited.then(() => {
        dead = true;
      });
      const clients = Array.from({ length: 3 }, async (_, c) => {
        for (let k = 0; k < 30 && !dead; k++) {
          const from = (seq++ + c) % ACCOUNTS;
          await transfer(from, (from + 1 + (k % (ACCOUNTS - 1))) % ACCOUNTS, 1 + (k % 7));
        }
      });
      await Promise.all(clients);
      if (dead) {
        fault.victim.child = null;
        await fault.victim.start();
      } else {
        await fault.victim.kill('SIGKILL');
        await fault.victim.start();
      }
    }

    // Let recovery resolve everything in doubt, then check the invariants.
    for (let i = 0; i < 200; i++) {
      const prepared = await Promise.all(nodes.map((n) => call(`${n.url}/prepared`, undefined, 'GET')));
      const pending = await call(`${coordinator.url}/decisions`, undefined, 'GET');
      if (prepared.every((p) => p.body?.prepared.length === 0) && pending.body?.pending.length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const rows = await Promise.all(nodes.map((n) => call(`${n.url}/query`, { table: 'accounts' })));
    const ledger = (await Promise.all(nodes.map((n) => call(`${n.url}/query`, { table: 'ledger' })))).flatMap(
      (r) => r.body.rows as { id: string }[],
    );
    const total = rows
      .flatMap((r) => r.body.rows as { balance: number }[])
      .reduce((a, r) => a + r.balance, 0);
    expect(total).toBe(ACCOUNTS * INITIAL);
    const halves = new Map<string, number>();
    for (const entry of ledger) {
      const gid = entry.id.split('/')[0]!;
      halves.set(gid, (halves.get(gid) ?? 0) + 1);
    }
    for (const [gid, n] of halves) expect(n, `transfer ${gid} half-applied`).toBe(2);
    expect(halves.size).toBeGreaterThanOrEqual(committed);
    expect(committed).toBeGreaterThan(5);
    console.log(
      `2PC under ${faults.length} crash points: ${committed} acknowledged, ${halves.size} applied transfers`,
    );
  }, 180_000);
});
