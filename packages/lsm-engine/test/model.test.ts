// Model test (fast-check commands): random sequences of put / del / batch / get / iterate /
// snapshot / reopen / flush / compact against a Map. Tiny memtables and level budgets make
// every run go through flushes and compactions, so the model covers tables, not just memory.
import { FaultFileSystem } from '@ddia/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LsmLevel } from '../src/index.js';

// fast-check's default size ('small') makes sequences of 5 commands on average, so most of a run
// was opening and removing a database; at size 'medium' they average 10 (up to 20), and half the
// runs check as many commands as before, in longer, deeper sequences.
const RUNS = process.env.DDIA_LONG === '1' ? 5_000 : 500;
// Each sequence runs on a disk of its own in memory (testkit's FaultFileSystem, never told to
// crash): this test is about the engine's logic against the model, and with the real disk most
// of its time went to the fsyncs of opens, flushes and compactions. Real files and crashes are
// crash.test's, background.test's and power-loss.test's; with 1 KiB memtables every table job
// here runs on the main thread either way (table-workers.ts, INLINE_JOB_BYTES_MAX).
const LOCATION = '/model/db';

type Model = Map<string, string>;
interface Snap {
  handle: ReturnType<LsmLevel['snapshot']>;
  model: Model;
}
interface Real {
  db: LsmLevel;
  fs: FaultFileSystem;
  style: 'leveled' | 'tiered';
  snapshots: Snap[];
}

const ENGINE = {
  writeBufferBytes: 1024,
  blockBytes: 256,
  restartInterval: 4,
  targetFileBytes: 2048,
  levelBaseBytes: 4096,
  levelMultiplier: 4,
  l0CompactionTrigger: 2,
  tieredMinRuns: 2,
};

function open(real: Real): LsmLevel {
  return new LsmLevel(LOCATION, { ...ENGINE, compaction: real.style, fs: real.fs });
}

const keyArb = fc.constantFrom(...Array.from({ length: 24 }, (_, i) => `k${String(i).padStart(2, '0')}`));
const valueArb = fc.string({ minLength: 0, maxLength: 40 });

function sorted(
  model: Model,
  o: { gte?: string; lt?: string; reverse: boolean; limit: number },
): [string, string][] {
  let entries = [...model.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (o.gte !== undefined) entries = entries.filter(([k]) => k >= o.gte!);
  if (o.lt !== undefined) entries = entries.filter(([k]) => k < o.lt!);
  if (o.reverse) entries.reverse();
  return o.limit >= 0 ? entries.slice(0, o.limit) : entries;
}

class Put implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly key: string,
    readonly value: string,
  ) {}
  check = () => true;
  async run(m: Model, r: Real) {
    await r.db.put(this.key, this.value);
    m.set(this.key, this.value);
  }
  toString = () => `put(${this.key}, ${JSON.stringify(this.value)})`;
}
class Del implements fc.AsyncCommand<Model, Real> {
  constructor(readonly key: string) {}
  check = () => true;
  async run(m: Model, r: Real) {
    await r.db.del(this.key);
    m.delete(this.key);
  }
  toString = () => `del(${this.key})`;
}
class Batch implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ops: { type: 'put' | 'del'; key: string; value: string }[]) {}
  check = () => true;
  async run(m: Model, r: Real) {
    await r.db.batch(
      this.ops.map((o) =>
        o.type === 'put' ? { type: 'put', key: o.key, value: o.value } : { type: 'del', key: o.key },
      ),
    );
    for (const o of this.ops) {
      if (o.type === 'put') m.set(o.key, o.value);
      else m.delete(o.key);
    }
  }
  toString = () => `batch(${JSON.stringify(this.ops)})`;
}
class Get implements fc.AsyncCommand<Model, Real> {
  constructor(readonly key: string) {}
  check = () => true;
  async run(m: Model, r: Real) {
    expect(await r.db.get(this.key)).toBe(m.get(this.key));
  }
  toString = () => `get(${this.key})`;
}
class Iterate implements fc.AsyncCommand<Model, Real> {
  constructor(readonly o: { gte?: string; lt?: string; reverse: boolean; limit: number }) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const options: Record<string, unknown> = { reverse: this.o.reverse, limit: this.o.limit };
    if (this.o.gte !== undefined) options.gte = this.o.gte;
    if (this.o.lt !== undefined) options.lt = this.o.lt;
    expect(await r.db.iterator(options).all()).toEqual(sorted(m, this.o));
  }
  toString = () => `iterate(${JSON.stringify(this.o)})`;
}
class TakeSnapshot implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real) {
    r.snapshots.push({ handle: r.db.snapshot(), model: new Map(m) });
  }
  toString = () => 'snapshot()';
}
class ReadSnapshot implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly pick: number,
    readonly key: string,
  ) {}
  check = () => true;
  async run(_m: Model, r: Real) {
    if (r.snapshots.length === 0) return;
    const s = r.snapshots[this.pick % r.snapshots.length]!;
    expect(await r.db.get(this.key, { snapshot: s.handle })).toBe(s.model.get(this.key));
    expect(await r.db.iterator({ snapshot: s.handle }).all()).toEqual(
      sorted(s.model, { reverse: false, limit: -1 }),
    );
  }
  toString = () => `readSnapshot(${this.pick}, ${this.key})`;
}
class Reopen implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(_m: Model, r: Real) {
    await r.db.close();
    r.snapshots = [];
    r.db = open(r);
    await r.db.open();
  }
  toString = () => 'reopen()';
}
class Compact implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(_m: Model, r: Real) {
    await r.db.compact();
  }
  toString = () => 'compact()';
}
class Flush implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(_m: Model, r: Real) {
    await r.db.flush();
  }
  toString = () => 'flush()';
}

const commands = [
  fc.tuple(keyArb, valueArb).map(([k, v]) => new Put(k, v)),
  fc.tuple(keyArb, valueArb).map(([k, v]) => new Put(k, v)),
  keyArb.map((k) => new Del(k)),
  fc
    .array(
      fc.record({ type: fc.constantFrom('put' as const, 'del' as const), key: keyArb, value: valueArb }),
      {
        minLength: 1,
        maxLength: 8,
      },
    )
    .map((ops) => new Batch(ops)),
  keyArb.map((k) => new Get(k)),
  fc
    .record({
      gte: fc.option(keyArb, { nil: undefined }),
      lt: fc.option(keyArb, { nil: undefined }),
      reverse: fc.boolean(),
      limit: fc.constantFrom(-1, 1, 3),
    })
    .map((o) => new Iterate(o)),
  fc.constant(new TakeSnapshot()),
  fc.tuple(fc.nat(), keyArb).map(([p, k]) => new ReadSnapshot(p, k)),
  fc.constant(new Reopen()),
  fc.constant(new Compact()),
  fc.constant(new Flush()),
];

describe('LSM against a Map model', () => {
  let runs = 0;
  it(`agrees with the model over ${RUNS} random command sequences`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('leveled' as const, 'tiered' as const),
        fc.commands(commands, { maxCommands: 20, size: 'medium' }),
        async (style, cmds) => {
          const real: Real = {
            db: null as unknown as LsmLevel,
            fs: new FaultFileSystem({ seed: ++runs }),
            style,
            snapshots: [],
          };
          real.db = open(real);
          await real.db.open();
          try {
            await fc.asyncModelRun(() => ({ model: new Map(), real }), cmds);
          } finally {
            await real.db.close();
          }
        },
      ),
      { numRuns: RUNS },
    );
  }, 600_000);
});
