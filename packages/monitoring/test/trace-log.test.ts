// Traces on disk (src/storage/trace-log.ts): they survive a restart and are searchable as
// before; a SIGKILL of the real process while exports arrive loses none that were answered;
// a power cut (testkit's FaultFileSystem, fsync on every append) loses none either; retention
// drops them by age.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, pollUntil } from '@ddia/common';
import { type CrashMode, FaultFileSystem, freePort } from '@ddia/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import type { SpanRecord } from '../src/core/traces.js';
import { MONITORING_FLAGS, startMonitoring } from '../src/monitoring-node.js';
import { Traces } from '../src/storage/trace-log.js';

const MAIN = join(import.meta.dirname, '../dist/main.js');
const T0 = 1_796_000_000_000;
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'mon-traces-'));
  dirs.push(d);
  return d;
}

const hex = (n: number, bytes: number) => n.toString(16).padStart(bytes * 2, '0');
/** One OTLP/JSON export: a server span of `service`, trace id n, failing when `error`. */
function otlpExport(n: number, service: string, durationMs: number, error = false): string {
  const startNs = BigInt(T0 + n * 1000) * 1_000_000n;
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
        scopeSpans: [
          {
            spans: [
              {
                traceId: hex(n + 1, 16),
                spanId: hex(n + 1, 8),
                name: `GET /item/${n}`,
                kind: 2,
                startTimeUnixNano: String(startNs),
                endTimeUnixNano: String(startNs + BigInt(durationMs) * 1_000_000n),
                status: { code: error ? 2 : 0 },
              },
            ],
          },
        ],
      },
    ],
  });
}

const post = (url: string, body: string) =>
  fetch(`${url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
type Json = { data: { traces: { traceId: string; rootService: string; error: boolean }[] } };
const search = async (url: string, query: string) =>
  ((await (await fetch(`${url}/api/v1/traces?${query}`)).json()) as Json).data.traces;

function span(n: number, endMs: number): SpanRecord {
  return {
    traceId: hex(n + 1, 16),
    spanId: hex(n + 1, 8),
    parentSpanId: null,
    name: `op ${n}`,
    kind: 2,
    service: 'svc',
    startMs: endMs - 5,
    endMs,
    durationMs: 5,
    error: false,
    statusMessage: '',
    attributes: { n },
  };
}

describe('traces on disk', () => {
  it('survive a restart and are found by service, duration and error as before', async () => {
    const dataDir = await tempDir();
    const flags = ['--data-dir', dataDir, '--log-level', 'silent'];
    const first = await startMonitoring(parseConfig(flags, {}, MONITORING_FLAGS));
    expect((await post(first.url, otlpExport(1, 'gateway', 120, true))).status).toBe(200);
    expect((await post(first.url, otlpExport(2, 'kv', 5))).status).toBe(200);
    await first.close();

    const again = await startMonitoring(parseConfig(flags, {}, MONITORING_FLAGS));
    try {
      const slowErrors = await search(again.url, 'service=gateway&error=true&minDurationMs=100');
      expect(slowErrors.map((t) => t.traceId)).toEqual([hex(2, 16)]);
      expect((await search(again.url, 'service=kv')).map((t) => t.traceId)).toEqual([hex(3, 16)]);
      const one = await fetch(`${again.url}/api/v1/traces/${hex(3, 16)}`);
      expect(one.status).toBe(200);
    } finally {
      await again.close();
    }
  }, 60_000);

  it('SIGKILL while exports arrive loses none that were answered', async () => {
    const dataDir = await tempDir();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const child: ChildProcess = spawn(
      process.execPath,
      [MAIN, '--port', String(port), '--data-dir', dataDir, '--log-level', 'silent'],
      { stdio: 'ignore' },
    );
    const answered: number[] = [];
    try {
      await pollUntil(async () => (await fetch(`${url}/ready`).catch(() => null))?.ok === true, {
        timeoutMs: 60_000,
        what: 'monitoring to be ready',
      });
      // Exports keep coming, four at a time, while the process is killed under them.
      let n = 0;
      const sender = (async () => {
        for (;;) {
          const batch = [n, n + 1, n + 2, n + 3];
          n += 4;
          const results = await Promise.all(
            batch.map((i) =>
              post(url, otlpExport(i, 'svc', 1)).then(
                (r) => (r.ok ? i : null),
                () => null,
              ),
            ),
          );
          for (const i of results) if (i !== null) answered.push(i);
          if (results.includes(null)) return;
        }
      })();
      await pollUntil(() => answered.length >= 40, { timeoutMs: 60_000, what: '40 answered exports' });
      child.kill('SIGKILL');
      await sender;
    } finally {
      child.kill('SIGKILL');
    }
    await new Promise((r) =>
      child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r),
    );
    const traces = await Traces.open({ dataDir, nowMs: T0 + 3600_000 });
    const found = new Set(traces.store.search({ limit: 100_000 }).map((t) => t.traceId));
    for (const i of answered) expect(found.has(hex(i + 1, 16)), `answered export ${i}`).toBe(true);
    await traces.close();
  }, 120_000);

  it('a power cut loses no acknowledged export (fsync on every append); each record comes back whole', async () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      // Not 'reorder': a reordered-sector tear can make common's Log refuse to open (its FORMAT.md).
      const crashMode: CrashMode = (['lose-all', 'keep-all', 'prefix'] as const)[seed % 3]!;
      let fs = new FaultFileSystem({ seed, crashMode });
      await fs.mkdir('/data');
      await fs.fsyncDir('/', 'test.setup');
      const traces = await Traces.open({ dataDir: '/data', fs, fsync: 'always', nowMs: T0 });
      const acked: number[] = [];
      fs.crashAfter(20 + seed * 7);
      for (let i = 0; i < 40; i++) {
        try {
          await traces.add([span(i, T0 + i), span(1000 + i, T0 + i)], T0 + i);
          acked.push(i);
        } catch {
          break;
        }
      }
      fs = fs.crash();
      const back = await Traces.open({ dataDir: '/data', fs, fsync: 'always', nowMs: T0 });
      const found = new Set(back.store.search({ limit: 1000 }).map((t) => t.traceId));
      for (const i of acked) expect(found.has(hex(i + 1, 16)), `seed ${seed}: export ${i}`).toBe(true);
      // A record is both spans or neither.
      for (let i = 0; i < 40; i++)
        expect(found.has(hex(i + 1, 16)), `seed ${seed}: ${i}`).toBe(found.has(hex(1001 + i, 16)));
      expect(acked.length, `seed ${seed}: the crash came after some exports`).toBeGreaterThan(0);
      await back.close();
    }
  });

  it('retention forgets traces older than --trace-retention, in memory and on disk', async () => {
    const dataDir = await tempDir();
    const retentionMs = 60_000;
    const traces = await Traces.open({ dataDir, retentionMs, nowMs: T0 });
    await traces.add([span(1, T0)], T0);
    await traces.add([span(2, T0 + 50_000)], T0 + 50_000);
    await traces.compact(T0 + 90_000);
    expect(traces.store.search({}).map((t) => t.traceId)).toEqual([hex(3, 16)]);
    await traces.close();
    // Reopened later, what is past the retention is not loaded even if its segment is still there.
    const later = await Traces.open({ dataDir, retentionMs, nowMs: T0 + 90_000 });
    expect(later.store.search({}).map((t) => t.traceId)).toEqual([hex(3, 16)]);
    await later.close();
  });
});
