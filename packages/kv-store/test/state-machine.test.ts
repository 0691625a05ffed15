import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '@ddia/common';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Command,
  CommandFormatError,
  type Condition,
  decodeCommand,
  encodeCommand,
  KvStateMachine,
  SnapshotFormatError,
} from '../src/index.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const k = (s: string) => enc.encode(s);

async function memoryStore(): Promise<Store> {
  return openStore({ engine: 'memory', keyEncoding: 'view', valueEncoding: 'view' });
}

class Applier {
  index = 0;
  constructor(readonly sm: KvStateMachine) {}
  apply(command: Command) {
    this.index += 1;
    return this.sm.apply(encodeCommand(command), { index: this.index, term: 1 });
  }
  put(key: string, value: string, condition: Condition = { kind: 'none' }, session?: Command['session']) {
    return this.apply({
      op: 'put',
      key: k(key),
      value: k(value),
      condition,
      ...(session ? { session } : {}),
    });
  }
  del(key: string, condition: Condition = { kind: 'none' }) {
    return this.apply({ op: 'delete', key: k(key), condition });
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

describe('command encoding', () => {
  it('round-trips every command shape', () => {
    const bytes = fc.uint8Array({ maxLength: 64 });
    const condition = fc.oneof(
      fc.constant<Condition>({ kind: 'none' }),
      fc.constant<Condition>({ kind: 'absent' }),
      fc.constant<Condition>({ kind: 'present' }),
      fc.nat().map<Condition>((version) => ({ kind: 'version', version })),
      fc.array(fc.nat(), { maxLength: 4 }).map<Condition>((versions) => ({ kind: 'anyOf', versions })),
    );
    const session = fc.option(
      fc.record({ clientId: fc.string({ minLength: 1, maxLength: 20 }), seq: fc.nat() }),
      { nil: undefined },
    );
    const command = fc.oneof(
      fc.record({ op: fc.constant('put' as const), key: bytes, value: bytes, condition, session }),
      fc.record({ op: fc.constant('delete' as const), key: bytes, condition, session }),
    );
    fc.assert(
      fc.property(command, (c) => {
        const clean = JSON.parse(JSON.stringify(c, (_k, v) => (v instanceof Uint8Array ? [...v] : v)));
        const back = decodeCommand(encodeCommand(c));
        const cleanBack = JSON.parse(JSON.stringify(back, (_k, v) => (v instanceof Uint8Array ? [...v] : v)));
        expect(cleanBack).toEqual(clean);
      }),
    );
  });

  it('refuses damaged commands with a named error', () => {
    const good = encodeCommand({ op: 'put', key: k('a'), value: k('b'), condition: { kind: 'none' } });
    expect(() => decodeCommand(good.subarray(0, 2))).toThrow(CommandFormatError);
    expect(() => decodeCommand(Uint8Array.of(9, 1, 0, 0, 0))).toThrow(/format version/);
    const badOp = good.slice();
    badOp[1] = 7;
    expect(() => decodeCommand(badOp)).toThrow(/op code/);
    const truncated = encodeCommand({ op: 'delete', key: k('abcdef'), condition: { kind: 'none' } }).subarray(
      0,
      6,
    );
    expect(() => decodeCommand(truncated)).toThrow(CommandFormatError);
  });
});

describe('KvStateMachine: etcd-style revisions and versions', () => {
  it('put creates, overwrites and counts revisions; get returns the metadata', async () => {
    const a = new Applier(await KvStateMachine.open(await memoryStore()));
    expect((await a.put('x', '1')).result).toEqual({
      status: 'ok',
      op: 'put',
      created: true,
      revision: 1,
      version: 1,
    });
    expect((await a.put('y', '1')).result).toMatchObject({ created: true, revision: 2, version: 2 });
    expect((await a.put('x', '2')).result).toEqual({
      status: 'ok',
      op: 'put',
      created: false,
      revision: 3,
      version: 3,
    });
    const x = await a.sm.get(k('x'));
    expect(x && dec.decode(x.value)).toBe('2');
    expect(x).toMatchObject({ modRevision: 3, createRevision: 1, writes: 2 });
    expect(a.sm.revision).toBe(3);
    expect(a.sm.appliedIndex).toBe(3);
  });

  it('compare-and-set succeeds only on the current version, create-only only when absent', async () => {
    const a = new Applier(await KvStateMachine.open(await memoryStore()));
    expect((await a.put('x', 'a', { kind: 'absent' })).result).toMatchObject({ status: 'ok', version: 1 });
    expect((await a.put('x', 'b', { kind: 'absent' })).result).toEqual({
      status: 'precondition_failed',
      revision: 1,
      currentVersion: 1,
    });
    expect((await a.put('x', 'c', { kind: 'version', version: 7 })).result).toMatchObject({
      status: 'precondition_failed',
    });
    expect((await a.put('x', 'd', { kind: 'version', version: 1 })).result).toMatchObject({
      status: 'ok',
      version: 2,
    });
    expect((await a.put('nope', 'e', { kind: 'version', version: 1 })).result).toEqual({
      status: 'precondition_failed',
      revision: 2,
      currentVersion: null,
    });
    expect(dec.decode((await a.sm.get(k('x')))!.value)).toBe('d');
    // Failed conditions write nothing: the revision counts only changes.
    expect(a.sm.revision).toBe(2);
    expect(a.sm.appliedIndex).toBe(5);
  });

  it('delete removes the key, a missing key leaves the revision alone, recreation resets metadata', async () => {
    const a = new Applier(await KvStateMachine.open(await memoryStore()));
    await a.put('x', '1');
    await a.put('x', '2');
    expect((await a.del('x', { kind: 'version', version: 1 })).result.status).toBe('precondition_failed');
    expect((await a.del('x', { kind: 'version', version: 2 })).result).toEqual({
      status: 'ok',
      op: 'delete',
      deleted: true,
      revision: 3,
      prevVersion: 2,
    });
    expect(await a.sm.get(k('x'))).toBeUndefined();
    expect((await a.del('x')).result).toEqual({
      status: 'ok',
      op: 'delete',
      deleted: false,
      revision: 3,
      prevVersion: null,
    });
    await a.put('x', '3');
    // The version is the mod revision, so an ETag from before the delete can never match again (no ABA).
    expect(await a.sm.get(k('x'))).toMatchObject({ modRevision: 4, createRevision: 4, writes: 1 });
  });

  it('range honours prefix, start, end and limit in byte order', async () => {
    const a = new Applier(await KvStateMachine.open(await memoryStore()));
    for (const key of ['a', 'b/1', 'b/2', 'b/3', 'c', 'b']) await a.put(key, key);
    const keys = async (q: Parameters<KvStateMachine['range']>[0]) => {
      const r = await a.sm.range(q);
      return { keys: r.entries.map((e) => dec.decode(e.key)), more: r.more };
    };
    expect(await keys({ limit: 100 })).toEqual({ keys: ['a', 'b', 'b/1', 'b/2', 'b/3', 'c'], more: false });
    expect(await keys({ prefix: k('b/'), limit: 100 })).toEqual({ keys: ['b/1', 'b/2', 'b/3'], more: false });
    expect(await keys({ prefix: k('b/'), limit: 2 })).toEqual({ keys: ['b/1', 'b/2'], more: true });
    expect(await keys({ start: k('b/2'), end: k('c'), limit: 100 })).toEqual({
      keys: ['b/2', 'b/3'],
      more: false,
    });
    expect(await keys({ prefix: k('b/'), start: k('a'), end: k('b/3'), limit: 100 })).toEqual({
      keys: ['b/1', 'b/2'],
      more: false,
    });
    expect(await keys({ start: k('z'), end: k('a'), limit: 5 })).toEqual({ keys: [], more: false });
    expect(await keys({ prefix: Uint8Array.of(0xff), limit: 5 })).toEqual({ keys: [], more: false });
  });
});

describe('KvStateMachine: client sessions (at-most-once)', () => {
  it('a duplicate returns the original result and does not execute again', async () => {
    const a = new Applier(await KvStateMachine.open(await memoryStore()));
    const first = await a.put('x', 'a', { kind: 'none' }, { clientId: 'c1', seq: 1 });
    await a.put('x', 'other');
    const again = await a.put('x', 'a', { kind: 'none' }, { clientId: 'c1', seq: 1 });
    expect(again).toEqual({ result: first.result, duplicate: true });
    expect(dec.decode((await a.sm.get(k('x')))!.value)).toBe('other');
    expect(a.sm.revision).toBe(2);
  });

  it('an older sequence number is stale and not applied', async () => {
    const a = new Applier(await KvStateMachine.open(await memoryStore()));
    await a.put('x', 'a', { kind: 'none' }, { clientId: 'c1', seq: 5 });
    const stale = await a.put('x', 'b', { kind: 'none' }, { clientId: 'c1', seq: 4 });
    expect(stale.result).toEqual({ status: 'stale_request', lastSeq: 5 });
    expect(dec.decode((await a.sm.get(k('x')))!.value)).toBe('a');
  });

  it('the session table is bounded and evicts the client least recently seen in the log', async () => {
    const a = new Applier(await KvStateMachine.open(await memoryStore(), { sessionsMax: 2 }));
    await a.put('x', '1', { kind: 'none' }, { clientId: 'c1', seq: 1 });
    await a.put('x', '2', { kind: 'none' }, { clientId: 'c2', seq: 1 });
    await a.put('x', '3', { kind: 'none' }, { clientId: 'c1', seq: 2 });
    await a.put('x', '4', { kind: 'none' }, { clientId: 'c3', seq: 1 });
    expect(a.sm.sessionCount).toBe(2);
    // c2 was evicted: its duplicate is executed again (the documented cost of a bounded table).
    expect((await a.put('x', '2', { kind: 'none' }, { clientId: 'c2', seq: 1 })).duplicate).toBe(false);
    expect((await a.put('x', '3', { kind: 'none' }, { clientId: 'c1', seq: 2 })).duplicate).toBe(false);
  });
});

describe('KvStateMachine: durability, snapshots and restore', () => {
  it('reopening a persistent store keeps data, revision, applied index and sessions', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kv-sm-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const open = () =>
      openStore({ engine: 'level', dataDir: dir, keyEncoding: 'view', valueEncoding: 'view' });
    const db1 = await open();
    const a = new Applier(await KvStateMachine.open(db1));
    const first = await a.put('x', 'a', { kind: 'none' }, { clientId: 'c1', seq: 1 });
    await a.put('y', 'b');
    await db1.close();
    const db2 = await open();
    cleanups.push(() => db2.close());
    const sm = await KvStateMachine.open(db2);
    expect(sm.appliedIndex).toBe(2);
    expect(sm.revision).toBe(2);
    expect(dec.decode((await sm.get(k('y')))!.value)).toBe('b');
    // Raft may re-deliver entries the store already holds after a crash: they are skipped.
    expect(
      (
        await sm.apply(encodeCommand({ op: 'delete', key: k('y'), condition: { kind: 'none' } }), {
          index: 2,
          term: 1,
        })
      ).result,
    ).toEqual({
      status: 'replayed',
      index: 2,
    });
    const dup = await sm.apply(
      encodeCommand({
        op: 'put',
        key: k('x'),
        value: k('a'),
        condition: { kind: 'none' },
        session: { clientId: 'c1', seq: 1 },
      }),
      { index: 3, term: 2 },
    );
    expect(dup).toEqual({ result: first.result, duplicate: true });
  });

  it('snapshot then restore on another replica reproduces the same state', async () => {
    const a = new Applier(await KvStateMachine.open(await memoryStore()));
    await a.put('x', 'a', { kind: 'none' }, { clientId: 'c1', seq: 1 });
    await a.put('bin', '\u00ff');
    await a.apply({
      op: 'put',
      key: Uint8Array.of(0, 255),
      value: Uint8Array.of(1, 2, 3),
      condition: { kind: 'none' },
    });
    await a.del('x');
    const image = await a.sm.snapshot();
    const other = await KvStateMachine.open(await memoryStore());
    // Some stale local state that the snapshot must replace entirely.
    await other.apply(
      encodeCommand({ op: 'put', key: k('stale'), value: k('s'), condition: { kind: 'none' } }),
      {
        index: 1,
        term: 1,
      },
    );
    await other.restore(image, { index: 4, term: 1 });
    expect(other.appliedIndex).toBe(4);
    expect(other.revision).toBe(a.sm.revision);
    expect(await other.get(k('stale'))).toBeUndefined();
    expect(await other.range({ limit: 100 })).toEqual(await a.sm.range({ limit: 100 }));
    const dup = await other.apply(
      encodeCommand({
        op: 'put',
        key: k('x'),
        value: k('a'),
        condition: { kind: 'none' },
        session: { clientId: 'c1', seq: 1 },
      }),
      { index: 5, term: 1 },
    );
    expect(dup.duplicate).toBe(true);
    // A snapshot older than the store's own state is skipped.
    await other.restore(image, { index: 4, term: 1 });
    expect(other.appliedIndex).toBe(5);
  });

  it('a snapshot holds the state of the moment it was asked for, though applies go on while it is built', async () => {
    const a = new Applier(await KvStateMachine.open(await memoryStore()));
    for (let i = 0; i < 2_000; i++)
      await a.put(`k${i % 500}`, `v${i}`, { kind: 'none' }, { clientId: 'c', seq: i + 1 });
    const atCall = { revision: a.sm.revision, index: a.sm.appliedIndex };
    const building = a.sm.snapshot();
    // Raft goes on applying meanwhile: new keys, overwrites, deletes, a new session.
    await a.put('k1', 'changed');
    await a.del('k2');
    await a.put('new', 'x', { kind: 'none' }, { clientId: 'late', seq: 1 });
    const image = await building;
    const other = await KvStateMachine.open(await memoryStore());
    await other.restore(image, { index: atCall.index, term: 1 });
    expect({ revision: other.revision, index: other.appliedIndex }).toEqual(atCall);
    expect(dec.decode((await other.get(k('k1')))!.value)).toBe('v1501');
    expect(dec.decode((await other.get(k('k2')))!.value)).toBe('v1502');
    expect(await other.get(k('new'))).toBeUndefined();
    expect((await other.range({ limit: 1_000 })).entries).toHaveLength(500);
    expect(other.sessionCount).toBe(1);
  });

  it('a damaged snapshot is refused and the state is left alone', async () => {
    const a = new Applier(await KvStateMachine.open(await memoryStore()));
    await a.put('x', 'a');
    const image = await a.sm.snapshot();
    const other = await KvStateMachine.open(await memoryStore());
    const flipped = image.slice();
    flipped[10] = (flipped[10] as number) ^ 0x40;
    await expect(other.restore(flipped, { index: 1, term: 1 })).rejects.toThrow(SnapshotFormatError);
    await expect(other.restore(image.subarray(0, 6), { index: 1, term: 1 })).rejects.toThrow(
      SnapshotFormatError,
    );
    expect(other.appliedIndex).toBe(0);
  });

  it("restores an image behind Raft's index (entries without a command after its last one) at Raft's index", async () => {
    const a = new Applier(await KvStateMachine.open(await memoryStore()));
    await a.put('x', 'a');
    await a.put('y', 'b');
    const image = await a.sm.snapshot();
    // Raft snapshots at 3: entry 3 is a new leader's empty entry, which the machine never sees.
    const other = await KvStateMachine.open(await memoryStore());
    await other.restore(image, { index: 3, term: 2 });
    expect(other.appliedIndex).toBe(3);
    expect(await other.range({ limit: 100 })).toEqual(await a.sm.range({ limit: 100 }));
    // Restarted on the same snapshot: the store is already there.
    await other.restore(image, { index: 3, term: 2 });
    const next = encodeCommand({ op: 'put', key: k('z'), value: k('c'), condition: { kind: 'none' } });
    expect((await other.apply(next, { index: 4, term: 2 })).result.status).toBe('ok');
  });

  it("restores an image ahead of Raft's index (built while Raft replayed what the store held) at the image's index", async () => {
    const a = new Applier(await KvStateMachine.open(await memoryStore()));
    await a.put('x', 'a');
    await a.put('x', 'b');
    await a.put('x', 'c');
    const image = await a.sm.snapshot();
    const other = await KvStateMachine.open(await memoryStore());
    await other.restore(image, { index: 1, term: 1 });
    expect(other.appliedIndex).toBe(3);
    const revision = other.revision;
    // Raft goes on from 2: entries 2 and 3 are in the image already and change nothing.
    for (const [index, value] of [
      [2, 'b'],
      [3, 'c'],
    ] as const) {
      await other.apply(
        encodeCommand({ op: 'put', key: k('x'), value: k(value), condition: { kind: 'none' } }),
        {
          index,
          term: 1,
        },
      );
    }
    expect(other.revision).toBe(revision);
    expect(await other.range({ limit: 100 })).toEqual(await a.sm.range({ limit: 100 }));
  });
});

describe('KvStateMachine against a Map model (fast-check)', () => {
  it('agrees with a single-node model on every sequence of puts, CAS and deletes', async () => {
    const keyArb = fc.constantFrom('a', 'b', 'c');
    const opArb = fc.oneof(
      fc.record({ op: fc.constant('put' as const), key: keyArb, value: fc.string({ maxLength: 4 }) }),
      fc.record({
        op: fc.constant('cas' as const),
        key: keyArb,
        value: fc.string({ maxLength: 4 }),
        v: fc.nat(12),
      }),
      fc.record({ op: fc.constant('create' as const), key: keyArb, value: fc.string({ maxLength: 4 }) }),
      fc.record({ op: fc.constant('delete' as const), key: keyArb }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 40 }), async (ops) => {
        const a = new Applier(await KvStateMachine.open(await memoryStore()));
        const model = new Map<string, { value: string; version: number }>();
        let revision = 0;
        for (const op of ops) {
          const current = model.get(op.key);
          if (op.op === 'delete') {
            const { result } = await a.del(op.key);
            if (current) {
              revision++;
              model.delete(op.key);
            }
            expect(result).toMatchObject({ deleted: current !== undefined, revision });
            continue;
          }
          const condition: Condition =
            op.op === 'put'
              ? { kind: 'none' }
              : op.op === 'create'
                ? { kind: 'absent' }
                : { kind: 'version', version: op.v };
          const holds = op.op === 'put' || (op.op === 'create' ? !current : current?.version === op.v);
          const { result } = await a.put(op.key, op.value, condition);
          if (holds) {
            revision++;
            model.set(op.key, { value: op.value, version: revision });
            expect(result).toMatchObject({ status: 'ok', version: revision });
          } else {
            expect(result).toMatchObject({
              status: 'precondition_failed',
              currentVersion: current?.version ?? null,
            });
          }
        }
        const listed = (await a.sm.range({ limit: 10 })).entries.map((e) => [
          dec.decode(e.key),
          dec.decode(e.value),
          e.modRevision,
        ]);
        const expected = [...model.entries()]
          .sort(([x], [y]) => (x < y ? -1 : 1))
          .map(([key, e]) => [key, e.value, e.version]);
        expect(listed).toEqual(expected);
        expect(a.sm.revision).toBe(revision);
      }),
      { numRuns: 150 },
    );
  });
});

/** Every record the store holds (data, sessions, meta), as hex pairs in key order. */
async function dumpStore(db: Store): Promise<[string, string][]> {
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  const out: [string, string][] = [];
  for await (const [key, value] of db.iterator())
    out.push([hex(key as Uint8Array), hex(value as Uint8Array)]);
  return out;
}

/** Counts db.batch calls and can make the next one fail (a disk error mid-apply). */
function instrumentBatches(db: Store): { calls: number; failNext: boolean } {
  const probe = { calls: 0, failNext: false };
  const original = db.batch.bind(db) as (ops: unknown) => Promise<void>;
  (db as unknown as { batch: (ops: unknown) => Promise<void> }).batch = async (ops: unknown) => {
    probe.calls++;
    if (probe.failNext) {
      probe.failNext = false;
      throw new Error('injected write failure');
    }
    return original(ops);
  };
  return probe;
}

describe('KvStateMachine.applyBatch: one atomic batch per Raft Ready', () => {
  const put = (
    key: string,
    value: string,
    condition: Condition = { kind: 'none' },
    session?: Command['session'],
  ) => encodeCommand({ op: 'put', key: k(key), value: k(value), condition, ...(session ? { session } : {}) });

  it('later commands of a batch read the earlier ones: CAS chains, deletes and recreation', async () => {
    const sm = await KvStateMachine.open(await memoryStore());
    const outcomes = await sm.applyBatch([
      { command: put('x', '1'), index: 1, term: 1 },
      { command: put('x', '2', { kind: 'version', version: 1 }), index: 2, term: 1 },
      { command: put('x', '3', { kind: 'absent' }), index: 3, term: 1 },
      {
        command: encodeCommand({ op: 'delete', key: k('x'), condition: { kind: 'version', version: 2 } }),
        index: 4,
        term: 1,
      },
      { command: put('x', '4', { kind: 'absent' }), index: 6, term: 2 },
    ]);
    expect(outcomes.map((o) => o.result)).toEqual([
      { status: 'ok', op: 'put', created: true, revision: 1, version: 1 },
      { status: 'ok', op: 'put', created: false, revision: 2, version: 2 },
      { status: 'precondition_failed', revision: 2, currentVersion: 2 },
      { status: 'ok', op: 'delete', deleted: true, revision: 3, prevVersion: 2 },
      { status: 'ok', op: 'put', created: true, revision: 4, version: 4 },
    ]);
    expect(await sm.get(k('x'))).toMatchObject({ modRevision: 4, createRevision: 4, writes: 1 });
    expect(sm.appliedIndex).toBe(6);
  });

  it('writes the whole batch with one db.batch, and a failed batch leaves store and meta as they were', async () => {
    const db = await memoryStore();
    const probe = instrumentBatches(db);
    const sm = await KvStateMachine.open(db);
    await sm.applyBatch([
      { command: put('a', '1', { kind: 'none' }, { clientId: 'c1', seq: 1 }), index: 1, term: 1 },
      { command: put('b', '1'), index: 2, term: 1 },
      { command: put('a', '2', { kind: 'none' }, { clientId: 'c1', seq: 2 }), index: 3, term: 1 },
    ]);
    expect(probe.calls).toBe(1);
    // Only replays: nothing changes, nothing is written.
    const replayed = await sm.applyBatch([{ command: put('a', 'x'), index: 2, term: 1 }]);
    expect(replayed[0]?.result).toEqual({ status: 'replayed', index: 2 });
    expect(probe.calls).toBe(1);

    const before = await dumpStore(db);
    probe.failNext = true;
    await expect(
      sm.applyBatch([
        { command: put('a', '3'), index: 4, term: 1 },
        { command: put('c', '1', { kind: 'none' }, { clientId: 'c2', seq: 1 }), index: 5, term: 1 },
      ]),
    ).rejects.toThrow(/injected write failure/);
    expect(probe.calls).toBe(2);
    expect({ revision: sm.revision, appliedIndex: sm.appliedIndex }).toEqual({
      revision: 3,
      appliedIndex: 3,
    });
    expect(await dumpStore(db)).toEqual(before);
    // What a restarted node would see: the state before the failed batch, whole.
    const reopened = await KvStateMachine.open(db);
    expect({ revision: reopened.revision, appliedIndex: reopened.appliedIndex }).toEqual({
      revision: 3,
      appliedIndex: 3,
    });
    expect(reopened.sessionCount).toBe(1);
    expect(dec.decode((await reopened.get(k('a')))!.value)).toBe('2');
  });

  it('agrees with applying one by one on random command sequences split into random batches (fast-check)', async () => {
    const conditionArb = fc.oneof(
      fc.constant({ kind: 'none' as const }),
      fc.constant({ kind: 'absent' as const }),
      // Relative to the key's version when the command is made: mostly a match, so CAS chains
      // inside one batch succeed or fail exactly as they would one by one.
      fc.constantFrom(0, 0, 0, -1, 1).map((delta) => ({ kind: 'version' as const, delta })),
    );
    const stepArb = fc.record({
      op: fc.constantFrom('put' as const, 'delete' as const),
      key: fc.constantFrom('a', 'b', 'c'),
      value: fc.string({ maxLength: 3 }),
      condition: conditionArb,
      // The next request of a client, a retry of its last one (duplicate) or an older one (stale).
      session: fc.option(
        fc.record({
          clientId: fc.constantFrom('c1', 'c2', 'c3', 'c4'),
          seq: fc.constantFrom('next' as const, 'next' as const, 'same' as const, 'older' as const),
        }),
        { nil: undefined, freq: 2 },
      ),
      /** Index gap (no-op / membership entries), or a re-delivery of an older index. */
      position: fc.oneof(
        { weight: 8, arbitrary: fc.integer({ min: 1, max: 2 }).map((gap) => ({ gap })) },
        { weight: 1, arbitrary: fc.integer({ min: 0, max: 3 }).map((back) => ({ back })) },
      ),
    });
    const scenarioArb = fc.record({
      steps: fc.array(stepArb, { maxLength: 80, size: 'large' }),
      batchSizes: fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 20 }),
      sessionsMax: fc.integer({ min: 1, max: 4 }),
      // The batched replica's row cache: none, so small that it evicts all the time, or ample.
      rowCacheBytes: fc.constantFrom(0, 120, 400, 1 << 20),
    });
    await fc.assert(
      fc.asyncProperty(scenarioArb, async ({ steps, batchSizes, sessionsMax, rowCacheBytes }) => {
        // The reference: apply one by one. Each command is made from the state just before it
        // (so versions match often), then the same list is replayed in batches elsewhere.
        const oneDb = await memoryStore();
        const one = await KvStateMachine.open(oneDb, { sessionsMax, rowCacheBytes: 0 });
        const commands: { command: Uint8Array; index: number; term: number }[] = [];
        const expected = [];
        const lastSeq = new Map<string, number>();
        let last = 0;
        for (const s of steps) {
          const index = 'gap' in s.position ? last + s.position.gap : Math.max(1, last - s.position.back);
          last = Math.max(last, index);
          const current = (await one.get(k(s.key)))?.modRevision ?? 0;
          const condition: Condition =
            s.condition.kind === 'version'
              ? { kind: 'version', version: Math.max(0, current + s.condition.delta) }
              : s.condition;
          const command: Command =
            s.op === 'put'
              ? { op: 'put', key: k(s.key), value: k(s.value), condition }
              : { op: 'delete', key: k(s.key), condition };
          if (s.session) {
            const seen = lastSeq.get(s.session.clientId) ?? 0;
            const seq =
              s.session.seq === 'next' || seen === 0 ? seen + 1 : s.session.seq === 'same' ? seen : seen - 1;
            if (seq > seen) lastSeq.set(s.session.clientId, seq);
            if (seq > 0) command.session = { clientId: s.session.clientId, seq };
          }
          const c = { command: encodeCommand(command), index, term: 1 + Math.floor(index / 10) };
          commands.push(c);
          expected.push(await one.apply(c.command, { index: c.index, term: c.term }));
        }

        const batchedDb = await memoryStore();
        const probe = instrumentBatches(batchedDb);
        const batched = await KvStateMachine.open(batchedDb, { sessionsMax, rowCacheBytes });
        const actual = [];
        let batches = 0;
        for (let at = 0, b = 0; at < commands.length; b++) {
          const size = batchSizes[b % batchSizes.length] as number;
          actual.push(...(await batched.applyBatch(commands.slice(at, at + size))));
          at += size;
          batches++;
        }
        expect(actual).toEqual(expected);
        // Point reads (served from the row cache where it has the key) see what the store holds.
        // (Bytes compared as plain Uint8Arrays: the memory store hands out Buffers.)
        const read = async (sm: KvStateMachine, key: string) => {
          const entry = await sm.get(k(key));
          return entry && { ...entry, value: Uint8Array.from(entry.value) };
        };
        for (const key of ['a', 'b', 'c']) expect(await read(batched, key)).toEqual(await read(one, key));
        expect(batched.revision).toBe(one.revision);
        expect(batched.appliedIndex).toBe(one.appliedIndex);
        expect(batched.sessionCount).toBe(one.sessionCount);
        expect((await batched.range({ limit: 100 })).entries).toEqual(
          (await one.range({ limit: 100 })).entries,
        );
        // The store holds exactly the sessions the table holds: evicted ones are deleted.
        const sessionRecords = (await dumpStore(batchedDb)).filter(([key]) => key.startsWith('73'));
        expect(sessionRecords.length).toBe(batched.sessionCount);
        // The same bytes on disk (data, sessions, meta) and the same snapshot image.
        expect(await dumpStore(batchedDb)).toEqual(await dumpStore(oneDb));
        expect(await batched.snapshot()).toEqual(await one.snapshot());
        // Reopened from the store alone, the sessions (and their eviction order) are the same.
        const reopened = await KvStateMachine.open(batchedDb, { sessionsMax });
        expect(await reopened.snapshot()).toEqual(await one.snapshot());
        // At most one store write per batch (none for a batch of replays only).
        expect(probe.calls).toBeLessThanOrEqual(batches);
      }),
      { numRuns: 300 },
    );
  });
});
