// HTTP API: every route, and bad input answered with problem+json, never a 500.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createService, type Service } from '@ddia/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LsmLevel } from '../src/index.js';
import { registerLsmRoutes } from '../src/server.js';

const root = mkdtempSync(join(tmpdir(), 'lsm-http-'));
let service: Service;
let db: LsmLevel;
let base: string;
const KEY_MAX = 1024;
const VALUE_MAX = 64 * 1024;

beforeAll(async () => {
  db = new LsmLevel(join(root, 'db'), { writeBufferBytes: 32 * 1024 });
  await db.open();
  service = await createService({
    name: 'lsm-engine',
    config: { host: '127.0.0.1', port: 0, logLevel: 'silent', id: 'test' },
    bodyLimitBytes: VALUE_MAX + 1024 * 1024,
    handleSignals: false,
    onClose: () => db.close(),
  });
  registerLsmRoutes(service, db, { keyBytesMax: KEY_MAX, valueBytesMax: VALUE_MAX });
  base = await service.listen();
});
afterAll(async () => {
  await service.close();
  rmSync(root, { recursive: true, force: true });
});

const put = (key: string, body: string | Buffer, query = '') =>
  fetch(`${base}/kv/${encodeURIComponent(key)}${query}`, {
    method: 'PUT',
    body,
    headers: { 'content-type': 'application/octet-stream' },
  });

describe('lsm-engine HTTP API', () => {
  it('PUT, GET and DELETE raw bytes', async () => {
    const bytes = Buffer.from([0, 1, 2, 255, 254]);
    expect((await put('bin', bytes)).status).toBe(204);
    const got = await fetch(`${base}/kv/bin`);
    expect(got.status).toBe(200);
    expect(got.headers.get('content-type')).toContain('application/octet-stream');
    expect(Buffer.from(await got.arrayBuffer())).toEqual(bytes);
    expect((await fetch(`${base}/kv/bin?sync=true`, { method: 'DELETE' })).status).toBe(204);
    const gone = await fetch(`${base}/kv/bin`);
    expect(gone.status).toBe(404);
    expect(gone.headers.get('content-type')).toContain('application/problem+json');
  });

  it('keys with slashes and unicode round-trip', async () => {
    expect((await put('a/b/ключ', 'x', '?sync=true')).status).toBe(204);
    expect(await (await fetch(`${base}/kv/${encodeURIComponent('a/b/ключ')}`)).text()).toBe('x');
  });

  it('GET /kv scans ranges forward and in reverse with a limit', async () => {
    for (const k of ['r1', 'r2', 'r3', 'r4']) await put(k, `v-${k}`);
    const fwd = (await (await fetch(`${base}/kv?gte=r2&lt=r4`)).json()) as {
      entries: { key: string; value: string }[];
    };
    expect(fwd.entries).toEqual([
      { key: 'r2', value: 'v-r2' },
      { key: 'r3', value: 'v-r3' },
    ]);
    const rev = (await (await fetch(`${base}/kv?gt=r1&lte=r4&reverse=true&limit=2`)).json()) as {
      entries: { key: string }[];
    };
    expect(rev.entries.map((e) => e.key)).toEqual(['r4', 'r3']);
    const b64 = (await (await fetch(`${base}/kv?gte=r1&lte=r1&encoding=base64`)).json()) as {
      entries: { value: string }[];
    };
    expect(Buffer.from(b64.entries[0]!.value, 'base64').toString()).toBe('v-r1');
  });

  it('POST /batch applies puts and deletes atomically', async () => {
    const res = await fetch(`${base}/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        ops: [
          { type: 'put', key: 'b1', value: 'one' },
          { type: 'put', key: 'b2', value: Buffer.from('two').toString('base64'), encoding: 'base64' },
          { type: 'del', key: 'r1' },
        ],
        sync: true,
      }),
    });
    expect(res.status).toBe(200);
    expect(await (await fetch(`${base}/kv/b2`)).text()).toBe('two');
    expect((await fetch(`${base}/kv/r1`)).status).toBe(404);
  });

  it('POST /admin/compact and GET /admin/stats report levels and amplification', async () => {
    for (let i = 0; i < 300; i++) await put(`bulk-${i}`, 'v'.repeat(200));
    const compacted = await fetch(`${base}/admin/compact`, { method: 'POST' });
    expect(compacted.status).toBe(200);
    const stats = (await (await fetch(`${base}/admin/stats`)).json()) as {
      levels: { files: number; bytes: number }[];
      writeAmplification: number;
      spaceAmplification: number;
      bloom: { usefulRate: number };
      blockCache: { hitRate: number };
    };
    expect(stats.levels).toHaveLength(7);
    expect(stats.levels.reduce((s, l) => s + l.files, 0)).toBeGreaterThan(0);
    expect(stats.writeAmplification).toBeGreaterThan(1);
    expect(stats.spaceAmplification).toBeGreaterThanOrEqual(1);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('lsm_level_bytes');
    expect(metrics).toContain('lsm_write_amplification');
  });

  it('rejects oversize keys and values with 413 problem+json', async () => {
    const bigKey = await put('k'.repeat(KEY_MAX + 1), 'x');
    expect(bigKey.status).toBe(413);
    expect(bigKey.headers.get('content-type')).toContain('application/problem+json');
    const bigValue = await put('big', Buffer.alloc(VALUE_MAX + 1));
    expect(bigValue.status).toBe(413);
    const bigBatch = await fetch(`${base}/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ops: [{ type: 'put', key: 'x', value: 'v'.repeat(VALUE_MAX + 1) }] }),
    });
    expect(bigBatch.status).toBe(413);
  });

  it('rejects bad input with 4xx problem+json', async () => {
    expect((await fetch(`${base}/kv/`)).status).toBe(400);
    expect((await fetch(`${base}/kv?limit=0`)).status).toBe(400);
    expect((await fetch(`${base}/kv?limit=abc`)).status).toBe(400);
    expect((await fetch(`${base}/kv?encoding=hex`)).status).toBe(400);
    const badJson = await fetch(`${base}/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"ops": [',
    });
    expect(badJson.status).toBe(400);
    const noOps = await fetch(`${base}/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ops: [] }),
    });
    expect(noOps.status).toBe(400);
    const putNoValue = await fetch(`${base}/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ops: [{ type: 'put', key: 'x' }] }),
    });
    expect(putNoValue.status).toBe(400);
    expect(putNoValue.headers.get('content-type')).toContain('application/problem+json');
  });
});

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
describe('lsm-engine process', () => {
  let proc: ChildProcess | null = null;
  afterAll(() => {
    proc?.kill('SIGKILL');
  });
  it.skipIf(!existsSync(main))(
    'starts from dist/main.js, serves, and keeps data across a restart',
    async () => {
      const dataDir = join(root, 'proc');
      const start = async (): Promise<string> => {
        proc = spawn(process.execPath, [main, '--port', '0', '--data-dir', dataDir, '--log-level', 'info'], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        return await new Promise<string>((resolve, reject) => {
          let out = '';
          proc!.stdout!.on('data', (c: Buffer) => {
            out += c.toString();
            const m = /"url":"(http:[^"]+)"/.exec(out);
            if (m) resolve(m[1]!);
          });
          proc!.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
        });
      };
      let url = await start();
      expect((await fetch(`${url}/kv/durable?sync=true`, { method: 'PUT', body: 'yes' })).status).toBe(204);
      proc!.kill('SIGKILL');
      await new Promise((r) => proc!.once('exit', r));
      url = await start();
      expect(await (await fetch(`${url}/kv/durable`)).text()).toBe('yes');
      expect((await fetch(`${url}/ready`)).status).toBe(200);
      proc!.kill('SIGTERM');
      await new Promise((r) => proc!.once('exit', r));
      proc = null;
    },
    60_000,
  );
});
