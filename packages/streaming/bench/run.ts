// Benchmark: the workload (1 KiB messages, batches of 100, 1 and 8 producers, acks=1
// and acks=all, one consumer group reading while the producers write) against our broker
// through kafkajs, and beside it Redis Streams (redis-server, XADD pipelined per batch /
// XREADGROUP, ioredis) and NATS JetStream (nats-server -js, file storage, nats.js) on the
// same machine in the same run. Several rounds, the systems' order alternating per round;
// messages/s, MB/s, p50/p99 batch-produce latency, p50/p99 end-to-end latency, server RSS.
//   node --import tsx bench/run.ts [--quick] [--install] [--seconds N] [--rounds N]
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type Acks, type BenchSystem, startNats, startOurBroker, startRedis } from './systems.js';

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    install: { type: 'boolean', default: false },
    seconds: { type: 'string' },
    rounds: { type: 'string' },
  },
});
const QUICK = flags.quick === true;
/** --quick is CI's smoke run (it must stay under ~20 s): half-second cells, a short warm-up. */
const CELL_MS = Number(flags.seconds ?? (QUICK ? 0.5 : 4)) * 1000;
const ROUNDS = Number(flags.rounds ?? (QUICK ? 1 : 3));
const MESSAGE_BYTES = 1024;
const BATCH = 100;
const PRODUCER_COUNTS = [1, 8] as const;
const ACKS: Acks[] = [1, -1];
const WARMUP_MS = QUICK ? 300 : 3_000;
const DRAIN_TIMEOUT_MS = QUICK ? 5_000 : 30_000;
const RESULTS = new URL('./results/', import.meta.url).pathname;
const DEBIAN_PEERS = ['redis-server', 'nats-server'];

type Starter = (producers: number) => Promise<BenchSystem | string>;
const SYSTEMS: { key: string; start: Starter }[] = [
  { key: 'ours', start: startOurBroker },
  { key: 'redis', start: startRedis },
  { key: 'nats', start: startNats },
];

interface Row {
  round: number;
  system: string;
  producers: number;
  acks: 'acks=1' | 'acks=all';
  messages: number;
  msgsPerS: number;
  mbPerS: number;
  produceP50Ms: number;
  produceP99Ms: number;
  e2eP50Ms: number;
  e2eP99Ms: number;
  consumed: number;
  rssMiB: number;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/** One message: 8 bytes of send time (performance.now(), same process) then filler up to 1 KiB. */
function batchValues(filler: Buffer): Buffer[] {
  const now = performance.now();
  return Array.from({ length: BATCH }, () => {
    const value = Buffer.allocUnsafe(MESSAGE_BYTES);
    value.writeDoubleLE(now, 0);
    filler.copy(value, 8, 8);
    return value;
  });
}

async function runCell(
  system: BenchSystem,
  round: number,
  producers: number,
  acks: Acks,
  cellMs = CELL_MS,
): Promise<Row> {
  const topic = await system.prepare(
    `bench-r${round}-${cellMs === WARMUP_MS ? 'warm' : 'p'}${producers}-${acks === 1 ? 'a1' : 'aall'}-${Date.now()}`,
    acks,
  );
  const filler = Buffer.alloc(MESSAGE_BYTES, 0x61);
  const e2e: number[] = [];
  let consumed = 0;
  let peakRss = system.rssBytes();
  let wake: (() => void) | null = null;
  const stopConsumer = await system.consume(topic, (value) => {
    e2e.push(performance.now() - value.readDoubleLE(0));
    consumed++;
    wake?.();
  });
  const produceLatencies: number[] = [];
  let acked = 0;
  const started = performance.now();
  const end = started + cellMs;
  await Promise.all(
    Array.from({ length: producers }, async (_, p) => {
      while (performance.now() < end) {
        const t0 = performance.now();
        await system.send(p, topic, acks, batchValues(filler));
        produceLatencies.push(performance.now() - t0);
        acked += BATCH;
      }
    }),
  );
  const elapsedS = (performance.now() - started) / 1000;
  peakRss = Math.max(peakRss, system.rssBytes());
  // Let the consumer catch up so that end-to-end latency covers every acknowledged message.
  const drainDeadline = performance.now() + DRAIN_TIMEOUT_MS;
  while (consumed < acked && performance.now() < drainDeadline) {
    await new Promise<void>((resolve) => {
      wake = resolve;
      setTimeout(resolve, 50);
    });
  }
  wake = null;
  await stopConsumer();
  produceLatencies.sort((a, b) => a - b);
  e2e.sort((a, b) => a - b);
  return {
    round,
    system: system.name,
    producers,
    acks: acks === 1 ? 'acks=1' : 'acks=all',
    messages: acked,
    msgsPerS: Math.round(acked / elapsedS),
    mbPerS: round2((acked * MESSAGE_BYTES) / elapsedS / 2 ** 20),
    produceP50Ms: round2(quantile(produceLatencies, 0.5)),
    produceP99Ms: round2(quantile(produceLatencies, 0.99)),
    e2eP50Ms: round2(quantile(e2e, 0.5)),
    e2eP99Ms: round2(quantile(e2e, 0.99)),
    consumed,
    rssMiB: Math.round(peakRss / 2 ** 20),
  };
}

function installPeers(): void {
  const missing = DEBIAN_PEERS.filter((bin) => spawnSync('which', [bin]).status !== 0);
  if (missing.length === 0) return;
  console.log(`installing ${missing.join(' ')} with apt-get`);
  const result = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (result.status !== 0) console.log('apt-get failed; the missing peers are skipped');
}

interface Summary {
  system: string;
  producers: number;
  acks: string;
  msgsPerS: number;
  min: number;
  max: number;
  mbPerS: number;
  produceP50Ms: number;
  produceP99Ms: number;
  e2eP50Ms: number;
  e2eP99Ms: number;
  rssMiB: number;
  rounds: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

function summarize(rows: Row[]): Summary[] {
  const out: Summary[] = [];
  const keys = new Set(rows.map((r) => `${r.system}|${r.producers}|${r.acks}`));
  for (const key of keys) {
    const same = rows.filter((r) => `${r.system}|${r.producers}|${r.acks}` === key);
    const first = same[0]!;
    const rates = same.map((r) => r.msgsPerS);
    out.push({
      system: first.system,
      producers: first.producers,
      acks: first.acks,
      msgsPerS: median(rates),
      min: Math.min(...rates),
      max: Math.max(...rates),
      mbPerS: median(same.map((r) => r.mbPerS)),
      produceP50Ms: median(same.map((r) => r.produceP50Ms)),
      produceP99Ms: median(same.map((r) => r.produceP99Ms)),
      e2eP50Ms: median(same.map((r) => r.e2eP50Ms)),
      e2eP99Ms: median(same.map((r) => r.e2eP99Ms)),
      rssMiB: Math.max(...same.map((r) => r.rssMiB)),
      rounds: same.length,
    });
  }
  return out;
}

async function main(): Promise<void> {
  if (flags.install === true) installPeers();
  const rows: Row[] = [];
  const skipped: Record<string, string> = {};
  const notes: Record<string, string> = {};
  const maxProducers = Math.max(...PRODUCER_COUNTS);
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate the order: ours first in even rounds, last in odd ones.
    const order = round % 2 === 0 ? SYSTEMS : [...SYSTEMS].reverse();
    for (const { key, start } of order) {
      if (skipped[key]) continue;
      const system = await start(maxProducers);
      if (typeof system === 'string') {
        skipped[key] = system;
        console.log(`skipped ${key}: ${system} — or run the bench with --install`);
        continue;
      }
      try {
        // Warm-up (discarded): connections, JIT, the first topic's files.
        await runCell(system, round, 1, 1, WARMUP_MS);
        for (const producers of PRODUCER_COUNTS) {
          for (const acks of ACKS) {
            const why = system.unsupported(acks);
            if (why) {
              notes[`${system.name} ${acks === 1 ? 'acks=1' : 'acks=all'}`] = why;
              continue;
            }
            const row = await runCell(system, round, producers, acks);
            rows.push(row);
            console.log(
              `round ${round} ${row.system} producers=${producers} ${row.acks}: ${row.msgsPerS} msg/s ` +
                `${row.mbPerS} MB/s produce p50/p99 ${row.produceP50Ms}/${row.produceP99Ms} ms ` +
                `e2e p50/p99 ${row.e2eP50Ms}/${row.e2eP99Ms} ms consumed ${row.consumed}/${row.messages} ` +
                `rss ${row.rssMiB} MiB`,
            );
          }
        }
      } finally {
        await system.stop();
      }
    }
  }
  const summary = summarize(rows);
  const machine = {
    cpus: cpus().length,
    model: cpus()[0]?.model,
    node: process.version,
    peers: {
      redis: spawnSync('redis-server', ['--version']).stdout?.toString().trim() || null,
      nats: spawnSync('nats-server', ['--version']).stdout?.toString().trim() || null,
    },
  };
  await mkdir(RESULTS, { recursive: true });
  const file = join(
    RESULTS,
    QUICK ? 'quick.json' : `run-${new Date().toISOString().replace(/[:.]/g, '-')}.json`,
  );
  await writeFile(
    file,
    `${JSON.stringify(
      {
        workload: { messageBytes: MESSAGE_BYTES, batch: BATCH, cellMs: CELL_MS, rounds: ROUNDS },
        machine,
        skipped,
        notes,
        summary,
        rows,
      },
      null,
      2,
    )}\n`,
  );
  const ours = (producers: number, acks: string) =>
    summary.find((s) => s.system.startsWith('ddia') && s.producers === producers && s.acks === acks);
  console.log(
    '\n| system | producers | acks | msg/s median (min..max) | MB/s | vs ours | produce p50/p99 ms | e2e p50/p99 ms | RSS MiB |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const s of summary) {
    const base = ours(s.producers, s.acks);
    const ratio = base ? (base.msgsPerS / s.msgsPerS).toFixed(2) : 'n/a';
    console.log(
      `| ${s.system} | ${s.producers} | ${s.acks} | ${s.msgsPerS} (${s.min}..${s.max}) | ${s.mbPerS} | ` +
        `${ratio}x | ${s.produceP50Ms} / ${s.produceP99Ms} | ${s.e2eP50Ms} / ${s.e2eP99Ms} | ${s.rssMiB} |`,
    );
  }
  for (const [key, reason] of Object.entries(skipped)) console.log(`skipped ${key}: ${reason}`);
  for (const [key, note] of Object.entries(notes)) console.log(`not measured: ${key}: ${note}`);
  console.log(`\nresults: ${file}`);
}

await main();
