// `pnpm --filter @ddia/schema-evolution bench [--quick]`
//
// 1. Registry over keep-alive HTTP (common's undici client, N requests in flight) against our
//    registry running as its own process: register / lookup / get-by-id requests per second. The
//    peer is the same server's GET /health: the cost of the HTTP stack alone, so the ratio shows
//    what the registry's own work adds. (Confluent's registry is a JVM service we cannot run here.)
// 2. Encode/decode through @kafkajs/confluent-schema-registry with its id cache warm, against raw
//    avsc toBuffer/fromBuffer on the same records: the price of the wire-format envelope.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { HttpClient } from '@ddia/common';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import { PERSON_AVRO } from '../src/encodings/book-record.js';
import { generatePeople } from '../src/encodings/generate.js';

const quick = process.argv.includes('--quick');
const DURATION_MS = quick ? 500 : 4_000;
const IN_FLIGHT = 16;
const CT = { 'content-type': 'application/vnd.schemaregistry.v1+json' };
const RECORDS = 2_000;
const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));

interface Row {
  workload: string;
  opsPerSec: number;
  peer: string;
  peerOpsPerSec: number;
}

async function startRegistry(dataDir: string): Promise<{ url: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [MAIN, '--port', '0', '--data-dir', dataDir, '--log-level', 'info'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /"url":"(http:\/\/[^"]+)"/.exec(out);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`registry exited ${code}`)));
  });
  child.stdout.resume();
  return {
    url,
    stop: () =>
      new Promise((done) => {
        child.once('exit', () => done());
        child.kill('SIGTERM');
      }),
  };
}

/** Keeps IN_FLIGHT requests going for DURATION_MS; returns completed requests per second. */
async function load(next: (i: number) => Promise<void>): Promise<number> {
  let started = 0;
  let completed = 0;
  const start = performance.now();
  const worker = async () => {
    while (performance.now() - start < DURATION_MS) {
      await next(started++);
      completed++;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return (completed / (performance.now() - start)) * 1000;
}

function check(status: number, what: string) {
  if (status !== 200) throw new Error(`${what} answered ${status}`);
}

async function registryRows(): Promise<Row[]> {
  const dataDir = await mkdtemp(join(tmpdir(), 'ddia-sr-bench-'));
  const registry = await startRegistry(dataDir);
  const http = new HttpClient({ retries: 0, deadlineMs: 30_000 });
  try {
    const base = registry.url;
    await http.request(`${base}/config`, { method: 'PUT', headers: CT, body: { compatibility: 'NONE' } });
    const healthOnce = () => load(async () => check((await http.request(`${base}/health`)).status, 'health'));
    await healthOnce(); // warm-up: connections opened, JIT compiled
    const health = await healthOnce();
    const schemaFor = (i: number) =>
      JSON.stringify({
        type: 'record',
        name: 'Bench',
        fields: [
          { name: `f${i}`, type: 'long' },
          { name: 'n', type: 'string' },
        ],
      });
    let registered = 0;
    const register = await load(async (i) => {
      const r = await http.request(`${base}/subjects/bench-${i % 64}/versions`, {
        method: 'POST',
        headers: CT,
        body: { schema: schemaFor(i) },
      });
      check(r.status, 'register');
      registered++;
    });
    const known = schemaFor(0);
    const lookup = await load(async () => {
      const r = await http.request(`${base}/subjects/bench-0`, {
        method: 'POST',
        headers: CT,
        body: { schema: known },
      });
      check(r.status, 'lookup');
    });
    const byId = await load(async (i) =>
      check((await http.request(`${base}/schemas/ids/${(i % registered) + 1}`)).status, 'by id'),
    );
    const peer = 'GET /health (same server)';
    return [
      {
        workload: 'register (new schema, fsync per write)',
        opsPerSec: register,
        peer,
        peerOpsPerSec: health,
      },
      { workload: 'lookup (POST /subjects/:subject)', opsPerSec: lookup, peer, peerOpsPerSec: health },
      { workload: 'get by id (GET /schemas/ids/:id)', opsPerSec: byId, peer, peerOpsPerSec: health },
    ];
  } finally {
    await http.close();
    await registry.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

function timeOps(items: readonly unknown[], op: (item: unknown) => unknown): number {
  let ops = 0;
  const start = performance.now();
  while (performance.now() - start < DURATION_MS) {
    for (const item of items) op(item);
    ops += items.length;
  }
  return (ops / (performance.now() - start)) * 1000;
}

async function timeAsyncOps(
  items: readonly unknown[],
  op: (item: unknown) => Promise<unknown>,
): Promise<number> {
  let ops = 0;
  const start = performance.now();
  while (performance.now() - start < DURATION_MS) {
    for (const item of items) await op(item);
    ops += items.length;
  }
  return (ops / (performance.now() - start)) * 1000;
}

async function clientRows(): Promise<Row[]> {
  const dataDir = await mkdtemp(join(tmpdir(), 'ddia-sr-bench-'));
  const registry = await startRegistry(dataDir);
  try {
    const client = new SchemaRegistry({ host: registry.url });
    const { id } = await client.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(PERSON_AVRO) },
      { subject: 'person-value' },
    );
    const people = generatePeople(RECORDS, 11);
    const type = avro.Type.forSchema(PERSON_AVRO as avro.Schema);
    await client.encode(id, people[0]); // warm the id cache
    const messages = await Promise.all(people.map((p) => client.encode(id, p)));
    const raw = people.map((p) => type.toBuffer(p));
    const encode = await timeAsyncOps(people, (p) => client.encode(id, p));
    const decode = await timeAsyncOps(messages, (m) => client.decode(m as Buffer));
    const rawEncode = timeOps(people, (p) => type.toBuffer(p));
    const rawDecode = timeOps(raw, (b) => type.fromBuffer(b as Buffer));
    return [
      {
        workload: 'client.encode (cache warm)',
        opsPerSec: encode,
        peer: 'avsc toBuffer',
        peerOpsPerSec: rawEncode,
      },
      {
        workload: 'client.decode (cache warm)',
        opsPerSec: decode,
        peer: 'avsc fromBuffer',
        peerOpsPerSec: rawDecode,
      },
    ];
  } finally {
    await registry.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const rows = [...(await registryRows()), ...(await clientRows())];
const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, load average ${loadavg()[0].toFixed(2)}, node ${process.version}`;
const table = [
  `Machine: ${machine}. ${IN_FLIGHT} requests in flight, ${DURATION_MS} ms per workload${quick ? ' (--quick)' : ''}.`,
  '',
  '| workload | ops/s | peer | peer ops/s | ratio |',
  '|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.workload} | ${fmt(r.opsPerSec)} | ${r.peer} | ${fmt(r.peerOpsPerSec)} | ${(r.opsPerSec / r.peerOpsPerSec).toFixed(2)} |`,
  ),
].join('\n');
process.stdout.write(`${table}\n`);
if (!quick) {
  await writeFile(
    join(RESULTS, 'registry.json'),
    `${JSON.stringify({ machine, date: new Date().toISOString(), rows }, null, 2)}\n`,
  );
  await writeFile(join(RESULTS, 'registry.md'), `${table}\n`);
}
