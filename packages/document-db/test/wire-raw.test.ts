// The point-read fast path of the wire protocol: a find by _id answers with the document's
// stored bytes wrapped by hand (src/wire/codec.ts rawFindReply). Its reply must be exactly what
// the general path (planner, decode, CursorTable, BSON.serialize) sends.
import { BSON, Decimal128, Long, ObjectId } from 'bson';
import { describe, expect, it } from 'vitest';
import type { Doc } from '../src/core/values.js';
import { encodeMsgReply, rawFindReply } from '../src/wire/codec.js';
import { runCommand } from '../src/wire/commands.js';
import { CursorTable } from '../src/wire/cursors.js';
import { openDb } from './support/open.js';

const DOCS: Doc[] = [
  { _id: 1, s: 'ü€', n: 1.5, l: Long.fromNumber(2 ** 40), d: new Date(0), a: [1, { b: null }] },
  { _id: 'k', x: { y: [new ObjectId('0123456789abcdef01234567')] }, dec: Decimal128.fromString('1.1') },
  { _id: new ObjectId('fedcba9876543210fedcba98'), big: 'x'.repeat(300) },
  { _id: new Date(86_400_000), t: true },
];

describe('the raw point-read reply', () => {
  it('is byte for byte what the general path encodes, for 0, 1 and several documents', () => {
    const cursors = new CursorTable(60_000, () => 0);
    for (const docs of [[], [DOCS[0]!], DOCS])
      for (const ns of ['db.c', 'bench.people', 'ünï.cödé']) {
        const general = encodeMsgReply(7, 3, cursors.open(ns, docs, undefined, true));
        const raw = encodeMsgReply(
          7,
          3,
          rawFindReply(
            ns,
            docs.map((d) => BSON.serialize(d)),
          ),
        );
        expect(raw.equals(general)).toBe(true);
      }
  });

  it('answers find by _id as the general path does: found, missing, no collection, options that opt out', async () => {
    const { db } = await openDb();
    await db.insertMany('w', 'c', DOCS);
    const context = {
      engine: db,
      cursors: new CursorTable(60_000, () => 0),
      connectionId: 1,
      nowMs: () => 0,
    };
    const ask = async (command: Doc) =>
      BSON.deserialize(encodeMsgReply(1, 1, await runCommand(command, context)).subarray(21));
    for (const d of DOCS) {
      const reply = await ask({
        find: 'c',
        filter: { _id: d['_id'] },
        limit: 1,
        singleBatch: true,
        $db: 'w',
      });
      expect(reply).toEqual(
        BSON.deserialize(
          BSON.serialize({ cursor: { firstBatch: [d], id: Long.fromNumber(0), ns: 'w.c' }, ok: 1 }),
        ),
      );
    }
    // 1.0 and 1 are the same _id in MongoDB.
    expect((await ask({ find: 'c', filter: { _id: 1.0 }, $db: 'w' }))['cursor']['firstBatch']).toHaveLength(
      1,
    );
    for (const command of [
      { find: 'c', filter: { _id: 99 }, $db: 'w' },
      { find: 'none', filter: { _id: 1 }, $db: 'w' },
      { find: 'c', filter: { _id: 1 }, projection: { s: 1 }, $db: 'w' },
      { find: 'c', filter: { _id: 1 }, skip: 1, $db: 'w' },
      { find: 'c', filter: { _id: 1 }, sort: { bad: 'x' }, $db: 'w' },
      { find: 'c', filter: { _id: 1 }, hint: 'nope', $db: 'w' },
      { find: 'c', filter: { _id: { $gt: 0 } }, $db: 'w' },
    ]) {
      const reply = await ask(command);
      const general = await db
        .find('w', command.find, {
          filter: command.filter,
          ...('projection' in command ? { projection: command.projection } : {}),
          ...('skip' in command ? { skip: command.skip } : {}),
          ...('sort' in command ? { sort: command.sort } : {}),
          ...('hint' in command ? { hint: command.hint } : {}),
        })
        .then(
          (r) => r.docs,
          () => 'error',
        );
      if (general === 'error') expect(reply['ok']).toBe(0);
      else expect(reply['cursor']['firstBatch']).toEqual(general);
    }
  });

  it('an indexed query answers with the stored bytes only when nothing changed them and no cursor stays open', async () => {
    const { db } = await openDb();
    await db.createIndex('w', 'p', { key: { city: 1 } });
    await db.insertMany(
      'w',
      'p',
      Array.from({ length: 30 }, (_, i) => ({
        _id: i,
        city: `c${i % 3}`,
        l: Long.fromNumber(2 ** 40 + i),
        n: i,
      })),
    );
    const context = {
      engine: db,
      cursors: new CursorTable(60_000, () => 0),
      connectionId: 1,
      nowMs: () => 0,
    };
    const ask = async (command: Doc) =>
      BSON.deserialize(
        encodeMsgReply(1, 1, await runCommand({ ...command, $db: 'w' }, context)).subarray(21),
        {
          promoteLongs: false,
        },
      );
    const raw = await ask({ find: 'p', filter: { city: 'c1' }, limit: 4 });
    // The stored bytes keep the int64 an encode of the decoded object would turn into a double.
    expect(raw['cursor']['firstBatch'].map((d: Doc) => [d['_id'], d['l']])).toEqual(
      [1, 4, 7, 10].map((i) => [i, Long.fromNumber(2 ** 40 + i)]),
    );
    expect(raw['cursor']['id']).toEqual(Long.fromNumber(0));
    // A projection makes new objects: the general path, and its answer.
    const projected = await ask({ find: 'p', filter: { city: 'c1' }, projection: { n: 1 }, limit: 2 });
    expect(projected['cursor']['firstBatch']).toEqual([
      { _id: 1, n: 1 },
      { _id: 4, n: 4 },
    ]);
    // More than the first batch: a cursor stays open and getMore hands out the rest.
    const first = await ask({ find: 'p', filter: { city: 'c2' }, batchSize: 3 });
    expect(first['cursor']['firstBatch'].map((d: Doc) => d['_id'])).toEqual([2, 5, 8]);
    const id = first['cursor']['id'] as Long;
    expect(id.toNumber()).toBeGreaterThan(0);
    const rest = await ask({ getMore: id, collection: 'p' });
    expect(rest['cursor']['nextBatch'].map((d: Doc) => d['_id'])).toEqual([11, 14, 17, 20, 23, 26, 29]);
  });
});
