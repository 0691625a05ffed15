// The state machine on each durable engine common's openStore offers: the same commands give
// the same state, and it survives closing and reopening. 'lsm' is chapter 3's engine.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EngineName, openStore } from '@ddia/common';
import { lsmEngine } from '@ddia/lsm-engine';
import { describe, expect, it } from 'vitest';
import { encodeCommand, KvStateMachine } from '../src/index.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const ENGINES: EngineName[] = ['level', 'lsm'];

describe.each(ENGINES)('KvStateMachine on engine %s', (engine) => {
  it('applies, lists, snapshots and reopens', async () => {
    const dir = await mkdtemp(join(tmpdir(), `kv-engine-${engine}-`));
    try {
      const open = () =>
        openStore({
          engine,
          lsm: lsmEngine,
          dataDir: dir,
          name: 'kv',
          keyEncoding: 'view',
          valueEncoding: 'view',
        });
      const db = await open();
      const sm = await KvStateMachine.open(db);
      let index = 0;
      for (let i = 0; i < 300; i++) {
        const key = enc.encode(`k${String(i % 50).padStart(3, '0')}`);
        const command =
          i % 7 === 6
            ? encodeCommand({ op: 'delete', key, condition: { kind: 'none' } })
            : encodeCommand({ op: 'put', key, value: enc.encode(`v${i}`), condition: { kind: 'none' } });
        await sm.apply(command, { index: ++index, term: 1 });
      }
      const before = await sm.range({ limit: 1000 });
      const revision = sm.revision;
      // Raft applies on while the image is built; the image is the state when it was asked for
      // (the late key sorts last, so a walk that saw later writes would reach it).
      const building = sm.snapshot();
      const late = encodeCommand({
        op: 'put',
        key: enc.encode('k999'),
        value: enc.encode('late'),
        condition: { kind: 'none' },
      });
      await sm.apply(late, { index: 301, term: 1 });
      const image = await building;
      const undo = await KvStateMachine.open(
        await openStore({ engine: 'memory', keyEncoding: 'view', valueEncoding: 'view' }),
      );
      await undo.restore(image, { index: 300, term: 1 });
      expect((await undo.range({ limit: 1000 })).entries.map((e) => dec.decode(e.value))).toEqual(
        before.entries.map((e) => dec.decode(e.value)),
      );
      const live = await sm.range({ limit: 1000 });
      const liveImage = await sm.snapshot();
      await db.close();
      const db2 = await open();
      const reopened = await KvStateMachine.open(db2);
      expect(reopened.revision).toBe(revision + 1);
      expect(reopened.appliedIndex).toBe(301);
      const after = await reopened.range({ limit: 1000 });
      const rows = (r: typeof after) =>
        r.entries.map((e) => [dec.decode(e.key), dec.decode(e.value), e.modRevision]);
      expect(rows(after)).toEqual(rows(live));
      expect(rows(after)).toContainEqual(['k999', 'late', revision + 1]);
      expect(await reopened.snapshot()).toEqual(liveImage);
      await db2.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
