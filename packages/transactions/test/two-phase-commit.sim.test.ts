// Two-phase commit under crashes, simulated in one process from a seed: three participants
// (each a Database whose WAL is kept in memory and replayed on "restart") and a coordinator
// whose decision log survives its own crashes. Any failure prints the seed to replay with
// DDIA_SEED=<seed>.
import { type Random, SeededRandom, SystemClock } from '@ddia/common';
import { describe, expect, it } from 'vitest';
import { type ChaosPoint, Coordinator, type DecisionRecord } from '../src/distributed/coordinator.js';
import { LocalParticipant, type Participant } from '../src/distributed/participant.js';
import { Database } from '../src/engine/database.js';
import type { CommitLog, WalRecord } from '../src/engine/wal-record.js';

const LONG = process.env.DDIA_LONG === '1';
const SEEDS = process.env.DDIA_SEED
  ? [Number(process.env.DDIA_SEED)]
  : Array.from({ length: LONG ? 200 : 25 }, (_, i) => i + 1);
const ACCOUNTS = 9;
const SHARDS = 3;
const INITIAL = 100;

class Crash extends Error {}

class MemoryWal implements CommitLog {
  records: WalRecord[] = [];
  async append(r: WalRecord) {
    this.records.push(structuredClone(r));
  }
}

/** A participant that crashes (losing everything not in its WAL) before or after a call. */
class FlakyNode implements Participant {
  wal = new MemoryWal();
  inner: LocalParticipant;
  crashes = 0;
  constructor(
    readonly name: string,
    private readonly random: Random,
    private readonly crashChance: number,
  ) {
    this.inner = new LocalParticipant(name, this.fresh());
  }
  private fresh(): Database {
    // Short timeouts: a statement stuck behind an in-doubt transaction gives up quickly, and
    // transactions a dead coordinator opened are rolled back by the idle timeout.
    const db = new Database({
      clock: new SystemClock(),
      lockTimeoutMs: 50,
      idleTimeoutMs: 200,
      firstTxId: 1 + this.crashes * 1_000_000,
    });
    for (const r of this.wal.records) db.replay(r);
    // The log as this incarnation sees it: once it has crashed, its unfinished operations
    // must not reach the disk (a dead process writes nothing), so its appends are refused.
    const incarnation = this.crashes;
    db.attachWal({
      append: async (r) => {
        if (incarnation !== this.crashes) throw new Crash(`${this.name} is dead; the write never happened`);
        await this.wal.append(r);
      },
    });
    return db;
  }
  restart() {
    this.crashes++;
    this.inner.db.abortAll('crash');
    this.inner.db = this.fresh();
  }
  private async call<T>(f: () => Promise<T>): Promise<T> {
    if (this.random.chance(this.crashChance)) {
      this.restart();
      throw new Crash(`${this.name} down before the call`);
    }
    const result = await f();
    if (this.random.chance(this.crashChance)) {
      this.restart();
      throw new Crash(`${this.name} crashed after the call, reply lost`);
    }
    return result;
  }
  begin = (i: Parameters<Participant['begin']>[0]) => this.call(() => this.inner.begin(i));
  update = (tx: number, t: string, w: string, s: Record<string, string>) =>
    this.call(() => this.inner.update(tx, t, w, s));
  insert = (tx: number, t: string, r: Record<string, unknown>) =>
    this.call(() => this.inner.insert(tx, t, r));
  rollback = (tx: number) => this.call(() => this.inner.rollback(tx));
  prepare = (tx: number, gid: string) => this.call(() => this.inner.prepare(tx, gid));
  commitPrepared = (gid: string) => this.call(() => this.inner.commitPrepared(gid));
  rollbackPrepared = (gid: string) => this.call(() => this.inner.rollbackPrepared(gid));
  listPrepared = () => this.call(() => this.inner.listPrepared());
}

async function simulate(seed: number) {
  const random = new SeededRandom(seed);
  const nodes = Array.from({ length: SHARDS }, (_, i) => new FlakyNode(`p${i}`, random.fork(), 0.015));
  for (const node of nodes) {
    const db = node.inner.db;
    await db.createTable('accounts', 'id');
    await db.createTable('ledger', 'id');
    await db.transact('read-committed', async (s) => {
      for (let a = 0; a < ACCOUNTS; a++)
        if (a % SHARDS === Number(node.name.slice(1)))
          await s.insert('accounts', { id: a, balance: INITIAL });
    });
  }
  const decisions: DecisionRecord[] = [];
  let generation = 0;
  let coordinator: Coordinator;
  const boot = () => {
    const mine = ++generation;
    // A fence: calls made by a dead coordinator instance fail, as its process would be gone.
    const alive = () => {
      if (mine !== generation) throw new Crash('coordinator is dead');
    };
    const fenced = new Map<string, Participant>(
      nodes.map((n) => [
        n.name,
        new Proxy(n, {
          get: (target, prop) => {
            const v = (target as never)[prop];
            return typeof v === 'function'
              ? (...args: unknown[]) => {
                  alive();
                  return (v as (...a: unknown[]) => unknown).apply(target, args);
                }
              : v;
          },
        }) as Participant,
      ]),
    );
    const c = new Coordinator(
      'c',
      fenced,
      {
        append: async (r) => {
          alive();
          decisions.push(structuredClone(r));
        },
      },
      async (point: ChaosPoint) => {
        alive();
        if (random.chance(0.02)) {
          generation++; // the coordinator process dies here
          throw new Crash(`coordinator crashed ${point}`);
        }
      },
    );
    c.restore(decisions);
    coordinator = c;
    return c.start();
  };
  await boot();
  const transfers = LONG ? 80 : 30;
  let done = 0;
  const clients = Array.from({ length: 3 }, async () => {
    while (done < transfers) {
      done++;
      const from = random.int(0, ACCOUNTS - 1);
      let to = random.int(0, ACCOUNTS - 1);
      if (to === from) to = (to + 1) % ACCOUNTS;
      const amount = random.int(1, 20);
      const c = coordinator;
      try {
        const outcome = await c.run([
          {
            participant: `p${from % SHARDS}`,
            run: async (p, tx, gid) => {
              await p.update(tx, 'accounts', `id = ${from}`, { balance: `balance - ${amount}` });
              await p.insert(tx, 'ledger', { id: `${gid}/from`, amount: -amount });
            },
          },
          {
            participant: `p${to % SHARDS}`,
            run: async (p, tx, gid) => {
              await p.update(tx, 'accounts', `id = ${to}`, { balance: `balance + ${amount}` });
              await p.insert(tx, 'ledger', { id: `${gid}/to`, amount });
            },
          },
        ]);
        // As the coordinator's background resolver would: settle whatever is in doubt.
        if (!outcome.committed || outcome.reason) await c.recover();
      } catch (e) {
        if (!(e instanceof Crash)) throw e;
        if (c === coordinator && !e.message.startsWith('coordinator')) continue;
        if (c === coordinator) await boot();
        await coordinator.recover().catch((x) => {
          if (!(x instanceof Crash)) throw x;
        });
      }
    }
  });
  await Promise.all(clients);
  // Heal: no more crashes; recover until nothing is in doubt.
  for (const n of nodes) (n as unknown as { crashChance: number }).crashChance = 0;
  await boot();
  for (let i = 0; i < 20; i++) {
    await coordinator!.recover().catch(() => {});
    if (
      nodes.every((n) => n.inner.db.preparedIds().length === 0) &&
      coordinator!.pendingDecisions().length === 0
    )
      break;
  }
  for (const n of nodes) n.inner.db.abortAll('end of run');
  const balances = nodes.flatMap((n) => n.inner.db.committedRows('accounts'));
  const ledger = nodes.flatMap((n) => n.inner.db.committedRows('ledger'));
  return { nodes, balances, ledger, decisions };
}

describe('two-phase commit under coordinator and participant crashes (simulation)', () => {
  it(`bank transfers across shards stay atomic over ${SEEDS.length} seeds`, async () => {
    let crashes = 0;
    let committed = 0;
    for (const seed of SEEDS) {
      const { nodes, balances, ledger } = await simulate(seed);
      const context = `seed ${seed} (replay with ${LONG ? 'DDIA_LONG=1 ' : ''}DDIA_SEED=${seed})`;
      expect(
        nodes.flatMap((n) => n.inner.db.preparedIds()),
        context,
      ).toEqual([]);
      const halves = new Map<string, number>();
      for (const row of ledger) {
        const gid = String(row.id).split('/')[0]!;
        halves.set(gid, (halves.get(gid) ?? 0) + 1);
      }
      for (const [gid, n] of halves) expect(n, `${context}: transfer ${gid} half-applied`).toBe(2);
      expect(
        balances.reduce((a, r) => a + Number(r.balance), 0),
        context,
      ).toBe(ACCOUNTS * INITIAL);
      crashes += nodes.reduce((a, n) => a + n.crashes, 0);
      committed += halves.size;
    }
    console.log(`${SEEDS.length} seeds: ${committed} transfers committed, ${crashes} participant crashes`);
    if (SEEDS.length > 1) {
      expect(committed).toBeGreaterThan(SEEDS.length * 4);
      expect(crashes).toBeGreaterThan(SEEDS.length);
    }
  });
});
