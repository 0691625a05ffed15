// Incremental input from the stream: orders produced to a topic of the streaming package's
// broker (a real broker process, started through its CLI; spoken to with kafkajs) are pulled as
// micro-batch files named by their offsets and applied by the ETL pipeline. The warehouse they
// give equals the one built from the same rows as a plain file; a re-run pulls and applies
// nothing; later messages touch only their own date partitions; a crash between the pull and
// the apply loses nothing and duplicates nothing.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pollUntil } from '@ddia/common';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followTopic } from '../src/etl/follow.js';
import { generateRaw, ordersBatch } from '../src/etl/generate.js';
import { runEtl } from '../src/etl/pipeline.js';
import { pullTopic, streamPositions } from '../src/etl/stream-source.js';
import { Oracle, sqlString } from './support/oracle.js';

const BROKER_MAIN = new URL('../../streaming/dist/main.js', import.meta.url).pathname;
const ETL_MAIN = new URL('../dist/etl/main.js', import.meta.url).pathname;
const TOPIC = 'orders';
/** The topic of the follow-mode case (its own offsets). */
const FOLLOWED = 'orders_followed';

let broker: ChildProcess | null = null;
let bootstrap = '';
let dir: string;
let oracle: Oracle;

/** The order lines of a generated batch (header dropped), as message values. */
function orderLines(seed: number, firstId: number, rows: number, dates: string[]): Buffer[] {
  const bytes = ordersBatch(seed, firstId, rows, dates);
  const lines: Buffer[] = [];
  let start = bytes.indexOf(10) + 1;
  while (start < bytes.length) {
    const end = bytes.indexOf(10, start);
    lines.push(bytes.subarray(start, end));
    start = end + 1;
  }
  return lines;
}

async function produce(lines: Buffer[], topic = TOPIC): Promise<void> {
  const kafka = new Kafka({ brokers: [bootstrap], clientId: 'test', logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  try {
    // Keyed by order id: one order's versions stay in one partition, in order.
    await producer.send({
      topic,
      acks: -1,
      messages: lines.map((value) => ({ key: value.subarray(0, value.indexOf(44)), value })),
    });
  } finally {
    await producer.disconnect();
  }
}

async function ordersOf(warehouse: string): Promise<Record<string, unknown>[]> {
  return oracle.rows(
    `SELECT order_id, customer_id, country, amount, quantity, note, CAST(date AS VARCHAR) AS date
       FROM read_parquet(${sqlString(`${warehouse}/orders/*/*.parquet`)}, hive_partitioning = true) ORDER BY ALL`,
  );
}

beforeAll(async () => {
  if (!existsSync(BROKER_MAIN)) return;
  dir = await mkdtemp(join(tmpdir(), 'ddia-batch-stream-'));
  oracle = await Oracle.open();
  broker = spawn(
    process.execPath,
    [BROKER_MAIN, '--port', '0', '--kafka-port', '0', '--data-dir', join(dir, 'broker')],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  broker.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    const m = /"kafka":"([^"]+)".*"msg":"streaming broker ready"/.exec(out);
    if (m) bootstrap = m[1]!;
  });
  await pollUntil(() => bootstrap !== '', {
    timeoutMs: 60_000,
    intervalMs: 100,
    what: 'the broker to start',
  });
  const kafka = new Kafka({ brokers: [bootstrap], clientId: 'test', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      { topic: TOPIC, numPartitions: 2 },
      { topic: FOLLOWED, numPartitions: 2 },
    ],
  });
  await admin.disconnect();
}, 120_000);

afterAll(async () => {
  if (broker && broker.exitCode === null) {
    broker.kill('SIGTERM');
    await new Promise((r) => broker!.once('exit', r));
  }
  oracle?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!existsSync(BROKER_MAIN))('ETL: incremental input from the streaming broker', () => {
  it('micro-batches from the topic equal the same rows as a file; re-runs and crashes apply nothing twice', async () => {
    const raw = join(dir, 'raw');
    const warehouse = join(dir, 'warehouse');
    await generateRaw(raw, 4, 1); // customers.csv and orders-0001.csv (2026-03-01)
    await runEtl(raw, warehouse);

    // 300 orders on the stream over 03-01 and 03-02, dirty rows included.
    const first = orderLines(77, 500_000, 300, ['2026-03-01', '2026-03-02']);
    await produce(first);
    const pulled = await pullTopic([bootstrap], TOPIC, raw);
    expect(pulled.map((p) => p.partition)).toEqual([0, 1]);
    expect(pulled.reduce((n, p) => n + p.messages, 0)).toBe(first.length);
    const report = await runEtl(raw, warehouse);
    expect(report.applied.sort()).toEqual(pulled.map((p) => p.file).sort());
    expect(report.rowsIn).toBe(first.length);
    expect(report.rowsOut + report.rejected).toBe(report.rowsIn);
    expect(report.rejected).toBeGreaterThan(0);

    // The same rows as one plain file give the same warehouse.
    const twin = join(dir, 'twin-raw');
    await generateRaw(twin, 4, 1);
    await writeFile(
      join(twin, 'orders-0002.csv'),
      Buffer.concat([
        Buffer.from('order_id,customer_id,amount,quantity,order_date,note\n'),
        ...first.flatMap((l) => [l, Buffer.from('\n')]),
      ]),
    );
    await runEtl(twin, join(dir, 'twin-warehouse'));
    const streamed = await ordersOf(warehouse);
    expect(streamed.length).toBeGreaterThan(300);
    expect(streamed).toEqual(await ordersOf(join(dir, 'twin-warehouse')));

    // Nothing new: nothing pulled, nothing applied.
    expect(await pullTopic([bootstrap], TOPIC, raw)).toEqual([]);
    expect((await runEtl(raw, warehouse)).applied).toEqual([]);

    // More orders, only for 03-03: only that partition is touched; offsets continue.
    const before = await streamPositions(raw, TOPIC);
    const second = orderLines(78, 600_000, 80, ['2026-03-03']);
    await produce(second);
    const more = await pullTopic([bootstrap], TOPIC, raw);
    for (const p of more) expect(p.from).toBe(before.get(p.partition));
    expect(more.reduce((n, p) => n + p.messages, 0)).toBe(second.length);
    // A crash here (files pulled, not applied): the next run pulls nothing again and applies them.
    expect(await pullTopic([bootstrap], TOPIC, raw)).toEqual([]);
    const applied = await runEtl(raw, warehouse);
    expect(applied.applied.sort()).toEqual(more.map((p) => p.file).sort());
    expect(applied.touchedDates).toEqual(['2026-03-03']);
    expect(applied.rowsIn).toBe(second.length);
    const names = await readdir(raw);
    expect(names.filter((n) => n.startsWith('orders-stream-')).length).toBe(pulled.length + more.length);
    expect(names.some((n) => n.endsWith('.tmp'))).toBe(false);
  });

  it('follow mode applies what arrives as micro-batches while it runs, equal to the same rows as files', async () => {
    const raw = join(dir, 'follow-raw');
    const warehouse = join(dir, 'follow-warehouse');
    await generateRaw(raw, 5, 1);
    await runEtl(raw, warehouse);
    const stop = new AbortController();
    const reports: { rowsIn: number; touchedDates: string[] }[] = [];
    const errors: Error[] = [];
    const loop = followTopic({
      brokers: [bootstrap],
      topic: FOLLOWED,
      rawDir: raw,
      outDir: warehouse,
      everyMs: 200,
      signal: stop.signal,
      onBatch: ({ report }) => reports.push(report),
      onError: (err) => errors.push(err),
    });
    const rowsApplied = () => reports.reduce((n, r) => n + r.rowsIn, 0);
    try {
      const first = orderLines(91, 700_000, 120, ['2026-03-01', '2026-03-02']);
      await produce(first, FOLLOWED);
      await pollUntil(() => rowsApplied() === first.length, {
        timeoutMs: 30_000,
        what: 'the first micro-batch',
      });
      const second = orderLines(92, 800_000, 40, ['2026-03-04']);
      await produce(second, FOLLOWED);
      await pollUntil(() => rowsApplied() === first.length + second.length, {
        timeoutMs: 30_000,
        what: 'the second micro-batch',
      });
      expect(reports.at(-1)!.touchedDates).toEqual(['2026-03-04']);

      // The same rows as plain files give the same warehouse.
      const twin = join(dir, 'follow-twin-raw');
      await generateRaw(twin, 5, 1);
      const file = (lines: Buffer[]) =>
        Buffer.concat([
          Buffer.from('order_id,customer_id,amount,quantity,order_date,note\n'),
          ...lines.flatMap((l) => [l, Buffer.from('\n')]),
        ]);
      await writeFile(join(twin, 'orders-0002.csv'), file(first));
      await writeFile(join(twin, 'orders-0003.csv'), file(second));
      await runEtl(twin, join(dir, 'follow-twin-warehouse'));
      expect(await ordersOf(warehouse)).toEqual(await ordersOf(join(dir, 'follow-twin-warehouse')));
    } finally {
      stop.abort();
      await loop;
    }
    expect(errors).toEqual([]);
    // Stopped and run again: nothing new on the topic, nothing pulled or applied twice.
    expect(await pullTopic([bootstrap], FOLLOWED, raw)).toEqual([]);
    expect((await runEtl(raw, warehouse)).applied).toEqual([]);
  });

  it('etl --follow without a topic, or with --every out of range, exits 2 naming the flag', () => {
    for (const [args, flag] of [
      [['--follow'], '--follow'],
      [['--brokers', 'x:1', '--topic', 't', '--follow', '--every', '0'], '--every'],
    ] as const) {
      const run = spawnSync(process.execPath, [ETL_MAIN, '--dir', join(dir, 'never'), ...args], {
        encoding: 'utf8',
      });
      expect(run.status, args.join(' ')).toBe(2);
      expect(run.stderr).toContain(flag);
    }
    expect(existsSync(join(dir, 'never'))).toBe(false);
  });
});
