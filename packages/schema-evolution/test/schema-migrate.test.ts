// `ddia schema migrate`: an Avro container file rewritten to a registered reader schema.
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import avro from 'avsc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSchemaMigrate } from '../src/migrate/schema-migrate.js';
import { call, type Running, startRegistry } from './helpers.js';

const WRITER = {
  type: 'record',
  name: 'Person',
  fields: [
    { name: 'userName', type: 'string' },
    { name: 'favoriteNumber', type: 'int' },
    { name: 'email', type: 'string' },
  ],
};
// Renames userName -> name (alias), widens int -> long, drops email, adds interests with a default.
const READER = {
  type: 'record',
  name: 'Person',
  fields: [
    { name: 'name', type: 'string', aliases: ['userName'] },
    { name: 'favoriteNumber', type: 'long' },
    { name: 'interests', type: { type: 'array', items: 'string' }, default: [] },
  ],
};
const PEOPLE = Array.from({ length: 250 }, (_, i) => ({
  userName: `user${i}`,
  favoriteNumber: i * 7,
  email: `u${i}@example.org`,
}));

function capture() {
  let out = '';
  let err = '';
  return {
    io: { stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) } },
    out: () => out,
    err: () => err,
  };
}

async function writeContainer(path: string, codec: string) {
  const encoder = new avro.streams.BlockEncoder(WRITER as avro.Schema, { codec });
  const done = pipeline(encoder, createWriteStream(path));
  for (const p of PEOPLE) encoder.write(p);
  encoder.end();
  await done;
}

async function readContainer(path: string): Promise<{ schema: unknown; records: unknown[] }> {
  const header = avro.extractFileHeader(path, { decode: false }) as { meta: Record<string, Buffer> };
  const records: unknown[] = [];
  for await (const r of avro.createFileDecoder(path)) records.push({ ...(r as object) });
  return { schema: JSON.parse(header.meta['avro.schema'].toString()), records };
}

describe('ddia schema migrate', () => {
  let r: Running;
  let dir: string;
  beforeAll(async () => {
    r = await startRegistry();
    dir = await mkdtemp(join(tmpdir(), 'ddia-migrate-'));
    await call(r.url, 'PUT', '/config/people', { compatibility: 'NONE' });
    await call(r.url, 'POST', '/subjects/people/versions', { schema: JSON.stringify(WRITER) });
    await call(r.url, 'POST', '/subjects/people/versions', { schema: JSON.stringify(READER) });
    const incompatible = { ...READER, fields: [...READER.fields, { name: 'age', type: 'int' }] };
    await call(r.url, 'POST', '/subjects/people/versions', { schema: JSON.stringify(incompatible) });
  });
  afterAll(async () => {
    await r.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('--dry-run reports the changes and examples, and writes nothing', async () => {
    const path = join(dir, 'dry.avro');
    await writeContainer(path, 'null');
    const before = await readFile(path);
    const c = capture();
    const code = await runSchemaMigrate(
      [path, '--registry', r.url, '--subject', 'people', '--version', '2', '--dry-run'],
      c.io,
    );
    expect(code, c.err()).toBe(0);
    expect(c.out()).toContain('renamed');
    expect(c.out()).toContain('field userName renamed to name');
    expect(c.out()).toContain('int -> long');
    expect(c.out()).toContain('field email is dropped');
    expect(c.out()).toContain('new field interests');
    expect(c.out()).toContain('250 records would be rewritten');
    expect(c.out()).toContain('"name":"user0"');
    expect((await readFile(path)).equals(before)).toBe(true);
  });

  it.each(['null', 'deflate'])('rewrites a %s-codec file in place to the reader schema', async (codec) => {
    const path = join(dir, `in-place-${codec}.avro`);
    await writeContainer(path, codec);
    const c = capture();
    const code = await runSchemaMigrate(
      [path, '--registry', r.url, '--subject', 'people', '--version', '2'],
      c.io,
    );
    expect(code, c.err()).toBe(0);
    expect(c.out()).toContain('wrote 250 records');
    const { schema, records } = await readContainer(path);
    expect((schema as { fields: { name: string }[] }).fields.map((f) => f.name)).toEqual([
      'name',
      'favoriteNumber',
      'interests',
    ]);
    expect(records).toEqual(
      PEOPLE.map((p) => ({ name: p.userName, favoriteNumber: p.favoriteNumber, interests: [] })),
    );
  });

  it('writes to --output and leaves the input alone', async () => {
    const path = join(dir, 'keep.avro');
    const output = join(dir, 'out.avro');
    await writeContainer(path, 'null');
    const before = await readFile(path);
    const c = capture();
    expect(
      await runSchemaMigrate(
        [path, '--registry', r.url, '--subject', 'people', '--version', '2', '--output', output],
        c.io,
      ),
    ).toBe(0);
    expect((await readFile(path)).equals(before)).toBe(true);
    expect((await readContainer(output)).records).toHaveLength(250);
  });

  it('refuses a reader schema that cannot read the file (exit 1, nothing written)', async () => {
    const path = join(dir, 'bad.avro');
    await writeContainer(path, 'null');
    const before = await readFile(path);
    const c = capture();
    expect(await runSchemaMigrate([path, '--registry', r.url, '--subject', 'people'], c.io)).toBe(1);
    expect(c.err()).toContain('READER_FIELD_MISSING_DEFAULT_VALUE');
    expect((await readFile(path)).equals(before)).toBe(true);
  });

  it('reports registry errors, bad files and bad usage', async () => {
    const path = join(dir, 'ok.avro');
    await writeContainer(path, 'null');
    let c = capture();
    expect(await runSchemaMigrate([path, '--registry', r.url, '--subject', 'nobody'], c.io)).toBe(1);
    expect(c.err()).toContain('404');
    c = capture();
    expect(
      await runSchemaMigrate([path, '--registry', r.url, '--subject', 'people', '--version', '9'], c.io),
    ).toBe(1);
    const notAvro = join(dir, 'not.avro');
    await writeFile(notAvro, 'hello, this is not avro');
    c = capture();
    expect(await runSchemaMigrate([notAvro, '--registry', r.url, '--subject', 'people'], c.io)).toBe(1);
    expect(c.err()).toContain('not an Avro object container file');
    c = capture();
    expect(
      await runSchemaMigrate([join(dir, 'missing.avro'), '--registry', r.url, '--subject', 'people'], c.io),
    ).toBe(1);
    c = capture();
    expect(await runSchemaMigrate([path, '--subject', 'people'], c.io)).toBe(2);
    expect(c.err()).toContain('usage');
    expect(await runSchemaMigrate([path, '--bogus'], capture().io)).toBe(2);
  });
});
