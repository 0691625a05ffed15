// Durability across SIGKILL and one id under concurrent registration, against real processes.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, record } from './helpers.js';
import { spawnRegistry } from './process.js';

describe.each(['level', 'lsm'])('registry durability on the %s engine (real process, SIGKILL)', (engine) => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'ddia-sr-'));
  });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  it('keeps every acknowledged registration, deletion and setting across kill -9', async () => {
    const acknowledged: { subject: string; id: number; version: number; schema: string }[] = [];
    let p = await spawnRegistry(dataDir, engine);
    try {
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 10; i++) {
          const subject = `s${i % 4}`;
          const schema = record('Rec', [
            ['id', 'long'],
            [`f${round}_${i}`, 'string', ''],
          ]);
          const answer = await call(p.url, 'POST', `/subjects/${subject}/versions`, { schema });
          expect(answer.status, answer.text).toBe(200);
          const version = (await call(p.url, 'POST', `/subjects/${subject}`, { schema })).body.version;
          acknowledged.push({ subject, id: answer.body.id, version, schema });
        }
        await call(p.url, 'PUT', '/config/s1', { compatibility: 'NONE' });
        await call(p.url, 'DELETE', '/subjects/s3/versions/1');
        await p.kill('SIGKILL');
        p = await spawnRegistry(dataDir, engine);
        for (const a of acknowledged) {
          const got = await call(p.url, 'GET', `/subjects/${a.subject}/versions/${a.version}?deleted=true`);
          expect(got.status, got.text).toBe(200);
          expect(got.body.id).toBe(a.id);
          expect(JSON.parse(got.body.schema)).toEqual(JSON.parse(a.schema));
        }
        expect((await call(p.url, 'GET', '/config/s1')).body).toEqual({ compatibilityLevel: 'NONE' });
        expect((await call(p.url, 'GET', '/subjects/s3/versions')).body).not.toContain(1);
      }
      // Ids keep growing after restarts: a new schema never reuses an id.
      const maxId = Math.max(...acknowledged.map((a) => a.id));
      const fresh = await call(p.url, 'POST', '/subjects/fresh/versions', {
        schema: record('Fresh', [['x', 'int']]),
      });
      expect(fresh.body.id).toBe(maxId + 1);
    } finally {
      await p.kill('SIGKILL');
    }
  });

  it('gives concurrent registrations of one schema one id and one version', async () => {
    const p = await spawnRegistry(dataDir, engine);
    try {
      const schema = record('Race', [['k', 'string']]);
      const answers = await Promise.all(
        Array.from({ length: 32 }, (_, i) =>
          call(p.url, 'POST', `/subjects/race${i % 2}/versions`, { schema }),
        ),
      );
      const ids = new Set(answers.map((a) => a.body.id));
      expect(answers.every((a) => a.status === 200)).toBe(true);
      expect(ids.size).toBe(1);
      expect((await call(p.url, 'GET', '/subjects/race0/versions')).body).toEqual([1]);
      expect((await call(p.url, 'GET', '/subjects/race1/versions')).body).toEqual([1]);
      // Different schemas racing into one subject get distinct ids and dense versions.
      await call(p.url, 'PUT', '/config/many', { compatibility: 'NONE' });
      const many = await Promise.all(
        Array.from({ length: 24 }, (_, i) =>
          call(p.url, 'POST', '/subjects/many/versions', { schema: record('Many', [[`f${i}`, 'int']]) }),
        ),
      );
      expect(new Set(many.map((a) => a.body.id)).size).toBe(24);
      const versions = (await call(p.url, 'GET', '/subjects/many/versions')).body;
      expect(versions).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    } finally {
      await p.kill('SIGKILL');
    }
  });
});
