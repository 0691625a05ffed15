// Durability with a real SIGKILL: a real process takes concurrent inserts through the official
// driver (each document with index entries in a unique and a multikey index), is killed with
// SIGKILL, restarted: every acknowledged document is there and every index equals a rebuild.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import { openDb } from './support/open.js';

const MAIN = new URL('../src/main.ts', import.meta.url).pathname;
const ROUNDS = process.env.DDIA_LONG === '1' ? 6 : 2;
const CLIENTS = 4;
const LOAD_MS = 1_500;

const children: ChildProcess[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function start(dataDir: string): Promise<{ child: ChildProcess; mongoPort: number }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      MAIN,
      '--port',
      '0',
      '--mongo-port',
      '0',
      '--data-dir',
      dataDir,
      '--log-level',
      'info',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], cwd: new URL('..', import.meta.url).pathname },
  );
  children.push(child);
  const mongoPort = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /"mongoPort":(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`document-db exited with ${code}: ${out}`)));
  });
  return { child, mongoPort };
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) =>
    child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve()),
  );
}

describe('crash recovery (SIGKILL under concurrent inserts)', () => {
  it(`keeps every acknowledged document and consistent indexes over ${ROUNDS} kill/restart rounds`, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'ddia-docdb-crash-'));
    dirs.push(dataDir);
    const acknowledged = new Set<string>();
    for (let round = 0; round < ROUNDS; round++) {
      const { child, mongoPort } = await start(dataDir);
      const client = new MongoClient(`mongodb://127.0.0.1:${mongoPort}`, {
        serverSelectionTimeoutMS: 10_000,
      });
      const coll = client
        .db('crash')
        .collection<{ _id: string; email: string; tags: string[]; round: number }>('docs');
      // Everything acknowledged before this kill must be here after it.
      const present = new Set((await coll.find({}, { projection: { _id: 1 } }).toArray()).map((d) => d._id));
      for (const id of acknowledged) expect(present.has(id), `acknowledged ${id} lost`).toBe(true);
      await coll.createIndex({ email: 1 }, { unique: true });
      await coll.createIndex({ tags: 1 });
      let stop = false;
      const clients = Array.from({ length: CLIENTS }, async (_, c) => {
        for (let n = 0; !stop; n++) {
          const id = `r${round}-c${c}-${n}`;
          try {
            await coll.insertOne({ _id: id, email: `${id}@x`, tags: [`c${c}`, `n${n % 5}`], round });
            acknowledged.add(id);
          } catch {
            return; // the kill: unacknowledged, may or may not be there
          }
        }
      });
      await new Promise((resolve) => setTimeout(resolve, LOAD_MS));
      child.kill('SIGKILL');
      stop = true;
      await Promise.all(clients);
      await exited(child);
      await client.close(true);
    }
    expect(acknowledged.size).toBeGreaterThan(20);
    // Last restart: all acknowledged documents, then the checker on the closed store.
    const { child, mongoPort } = await start(dataDir);
    const client = new MongoClient(`mongodb://127.0.0.1:${mongoPort}`);
    const ids = new Set(
      (
        await client
          .db('crash')
          .collection('docs')
          .find({}, { projection: { _id: 1 } })
          .toArray()
      ).map((d) => d._id as unknown as string),
    );
    for (const id of acknowledged) expect(ids.has(id), `acknowledged ${id} lost`).toBe(true);
    await client.close();
    child.kill('SIGTERM');
    await exited(child);
    const { db, store } = await openDb('lsm', dataDir);
    const report = await db.checkIndexes('crash', 'docs');
    expect(report.map((r) => r.index)).toEqual(['email_1', 'tags_1']);
    for (const r of report) expect(r).toMatchObject({ missing: 0, extra: 0 });
    await store.close();
  }, 120_000);
});

describe('cursor timeouts', () => {
  it('an idle cursor is closed by the sweep; getMore then answers CursorNotFound', async () => {
    const { CursorTable } = await import('../src/wire/cursors.js');
    let now = 0;
    const table = new CursorTable(1_000, () => now);
    const first = table.open(
      'd.c',
      Array.from({ length: 5 }, (_, i) => ({ _id: i })),
      2,
      false,
    ) as {
      cursor: { id: { toNumber(): number }; firstBatch: unknown[] };
    };
    expect(first.cursor.firstBatch).toHaveLength(2);
    const id = first.cursor.id.toNumber();
    now = 999;
    expect(table.sweep()).toBe(0);
    expect((table.getMore(id, 'd.c', 1) as { cursor: { nextBatch: unknown[] } }).cursor.nextBatch).toEqual([
      { _id: 2 },
    ]);
    now = 2_000;
    expect(table.sweep()).toBe(1);
    expect(() => table.getMore(id, 'd.c', 1)).toThrow(/cursor id \d+ not found/);
  });
});
