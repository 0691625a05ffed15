// The abstract-level workloads a user of the `level` ecosystem runs, on LsmLevel and on
// classic-level (LevelDB 1.23 through its N-API binding), with each library's defaults and
// sync: false on both. Every (engine, value size, round) runs in a fresh child process, so
// that the engines share no heap, JIT state or page-cache-warmed files, and its peak RSS is its
// own; the engines alternate within each round (round 1: lsm then leveldb, round 2 the other
// way round, ...). Prints the table with the median ratio and the min..max spread of each side,
// and writes the raw numbers as JSON beside it (bench/results/abstract-level*.json).
// Usage: pnpm --filter @ddia/lsm-engine bench -- --suite abstract-level
//          [--quick] [--entries N] [--rounds R] [--values 100,1024,16384] [--bytes-cap MiB]
//          [--engines lsm,leveldb,lsm-none,lsm-snappy,lsm-deflate,lsm-brotli,baseline] [--only w1,w2]
//          [--value-ratio 0.5] [--out name]
//   lsm is the engine's defaults (no compression; classic-level's is Snappy); lsm-none, lsm-snappy,
//   lsm-deflate, lsm-brotli: that block compression (a third table: cost and bytes on disk);
//   --value-ratio: how far values compress (db_bench's compression_ratio; default 1, random);
//   --entries 1000000: the 1M-entry run (data beyond the 8 MiB block cache), results in
//   bench/results/abstract-level-1m.*; about an hour per round on the loaded 2-core machine.
//   A row's entries are min(N, bytes-cap / value size): 100k entries of 16 KiB would be
//   1.6 GB per engine per round on a shared disk; the table says how many each row used.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SeededRandom } from '@ddia/common';
import type { Compression } from '../src/table-format.js';

const WORKLOADS = [
  'batch-seq',
  'batch-random',
  'put',
  'put-unawaited',
  'get',
  'get-unawaited',
  'iter-forward',
  'iter-reverse',
  'iter-bounded',
  'iter-bounded-reverse',
  'nextv',
  'all',
  'clear-range',
] as const;
type Workload = (typeof WORKLOADS)[number];
const DESCRIPTIONS: Record<Workload, string> = {
  'batch-seq': '`db.batch()` of 1,000 puts, sequential keys (fills db A)',
  'batch-random': '`db.batch()` of 1,000 puts, random keys (fills db B)',
  put: 'awaited `db.put()`, random existing keys (on B)',
  'put-unawaited': '`db.put()` 1,000 at a time, then `Promise.all` (on B)',
  get: 'awaited `db.get()`, random keys (on A)',
  'get-unawaited': '`db.get()` 1,000 at a time, then `Promise.all` (on A)',
  'iter-forward': '`for await (const e of db.iterator())`, whole db A',
  'iter-reverse': 'same, `{ reverse: true }`',
  'iter-bounded': '`for await` over `{ gte, lt }` ranges of 100 keys at random starts',
  'iter-bounded-reverse': 'same, `{ gte, lt, reverse: true }`',
  nextv: '`iterator.nextv(1000)` until empty, whole db A',
  all: '`db.iterator({ gte, lt }).all()` over ranges of 1,000 keys',
  'clear-range': '`db.clear({ gte, lt })` of ranges of 10,000 keys, half of A',
};

const KEY_BYTES = 16;
/** Point operations per workload at most (reads and writes of single keys). */
const POINT_OPS_MAX = 100_000;
const BATCH = 1000;

// biome-ignore lint/suspicious/noExplicitAny: both engines share abstract-level's API.
type Db = any;

interface ChildResult {
  engine: string;
  valueBytes: number;
  entries: number;
  opsPerSec: Partial<Record<Workload, number>>;
  /** Operations per CPU-second of the whole process (every thread: the engine's background work too). */
  opsPerCpuSec: Partial<Record<Workload, number>>;
  maxRssMiB: number;
  /** Bytes of both databases' directories (tables and logs) right after the two fills. */
  diskBytesAfterFill?: number;
}

function treeBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    total += e.isDirectory() ? treeBytes(p) : statSync(p).size;
  }
  return total;
}

function flag(name: string): string | null {
  const args = process.argv.slice(2);
  const i = args.indexOf(name);
  return i >= 0 ? (args[i + 1] ?? null) : null;
}

function key(i: number): Buffer {
  return Buffer.from(String(i).padStart(KEY_BYTES, '0'));
}

async function openEngine(name: string, dir: string): Promise<Db> {
  const options = { keyEncoding: 'buffer', valueEncoding: 'buffer' };
  let db: Db;
  if (name === 'lsm' || name.startsWith('lsm-')) {
    // lsm: the engine's defaults (no compression); lsm-none / lsm-snappy / lsm-deflate / lsm-brotli:
    // that block compression (FORMAT.md).
    const { LsmLevel } = await import('../src/index.js');
    const compression = name === 'lsm' ? {} : { compression: name.slice(4) as Compression };
    db = new LsmLevel(dir, { ...options, ...compression });
  } else if (name === 'baseline') {
    // An older copy of this package (LSM_BASELINE=/path/to/its/src/index.ts), for before/after.
    const { LsmLevel } = await import(process.env.LSM_BASELINE!);
    db = new LsmLevel(dir, options);
  } else {
    const { ClassicLevel } = await import('classic-level');
    db = new ClassicLevel(dir, options);
  }
  await db.open();
  return db;
}

/** One engine, one value size, one round: every workload in order, in this process. */
async function child(engine: string, valueBytes: number, entries: number, only: Set<string> | null) {
  const root = mkdtempSync(join(tmpdir(), `bench-al-${engine}-`));
  const random = new SeededRandom(42);
  const pool = Buffer.alloc(valueBytes + 4096);
  // --value-ratio r (db_bench's compression_ratio): in every 100 bytes, the first 100 r are
  // random and the rest repeat the last of them, so values compress to about r. Default 1:
  // random bytes, which no block compression shrinks.
  const ratio = Number(flag('--value-ratio') ?? 1);
  for (let i = 0; i < pool.length; i++)
    pool[i] = i % 100 < ratio * 100 || i === 0 ? random.int(0, 255) : pool[i - 1]!;
  const value = (i: number) => pool.subarray(i % 4096, (i % 4096) + valueBytes);
  const keys = Array.from({ length: entries }, (_, i) => key(i));
  const shuffled = new SeededRandom(7).shuffle(Array.from({ length: entries }, (_, i) => i));
  const pointOps = Math.min(entries, POINT_OPS_MAX);
  const out: Partial<Record<Workload, number>> = {};
  const cpu: Partial<Record<Workload, number>> = {};
  const time = async (w: Workload, body: () => Promise<number>) => {
    if (only !== null && !only.has(w)) return;
    const start = performance.now();
    const startCpu = process.cpuUsage();
    const ops = await body();
    const used = process.cpuUsage(startCpu);
    out[w] = Math.round(ops / ((performance.now() - start) / 1000));
    cpu[w] = Math.round(ops / ((used.user + used.system) / 1e6));
  };
  let diskBytesAfterFill = 0;
  const a = await openEngine(engine, join(root, 'a'));
  const b = await openEngine(engine, join(root, 'b'));
  try {
    // Fills: both databases are filled whatever `only` says (the other workloads need them).
    const fill = async (db: Db, order: (j: number) => number) => {
      for (let j = 0; j < entries; j += BATCH) {
        const ops = [];
        for (let k = j; k < Math.min(entries, j + BATCH); k++) {
          const i = order(k);
          ops.push({ type: 'put', key: keys[i], value: value(i) });
        }
        await db.batch(ops);
      }
      return entries;
    };
    const timedFill = async (w: Workload, db: Db, order: (j: number) => number) => {
      if (only === null || only.has(w)) await time(w, () => fill(db, order));
      else await fill(db, order);
    };
    await timedFill('batch-seq', a, (j) => j);
    await timedFill('batch-random', b, (j) => shuffled[j]!);
    diskBytesAfterFill = treeBytes(root);
    await time('put', async () => {
      for (let j = 0; j < pointOps; j++) {
        const i = shuffled[(j * 7) % entries]!;
        await b.put(keys[i], value(i + 1));
      }
      return pointOps;
    });
    await time('put-unawaited', async () => {
      for (let j = 0; j < pointOps; j += BATCH) {
        const pending = [];
        for (let k = j; k < Math.min(pointOps, j + BATCH); k++) {
          const i = shuffled[(k * 11) % entries]!;
          pending.push(b.put(keys[i], value(i + 2)));
        }
        await Promise.all(pending);
      }
      return pointOps;
    });
    await time('get', async () => {
      for (let j = 0; j < pointOps; j++) {
        const v = await a.get(keys[shuffled[(j * 13) % entries]!]);
        if (v === undefined) throw new Error('get missed a key');
      }
      return pointOps;
    });
    await time('get-unawaited', async () => {
      for (let j = 0; j < pointOps; j += BATCH) {
        const pending = [];
        for (let k = j; k < Math.min(pointOps, j + BATCH); k++)
          pending.push(a.get(keys[shuffled[(k * 17) % entries]!]));
        for (const v of await Promise.all(pending)) if (v === undefined) throw new Error('get missed a key');
      }
      return pointOps;
    });
    const scan = async (options: object) => {
      let n = 0;
      for await (const _ of a.iterator(options)) n++;
      if (n !== entries) throw new Error(`scan saw ${n} of ${entries} entries`);
      return n;
    };
    await time('iter-forward', () => scan({}));
    await time('iter-reverse', () => scan({ reverse: true }));
    const ranges = Math.max(1, Math.floor(pointOps / 100));
    const bounded = async (reverse: boolean) => {
      let n = 0;
      for (let r = 0; r < ranges; r++) {
        const start = shuffled[r % entries]! % Math.max(1, entries - 100);
        for await (const _ of a.iterator({ gte: keys[start], lt: keys[start + 100], reverse })) n++;
      }
      if (n !== ranges * Math.min(100, entries)) throw new Error(`bounded scans saw ${n} entries`);
      return n;
    };
    await time('iter-bounded', () => bounded(false));
    await time('iter-bounded-reverse', () => bounded(true));
    await time('nextv', async () => {
      const it = a.iterator();
      let n = 0;
      for (;;) {
        const batch = await it.nextv(1000);
        if (batch.length === 0) break;
        n += batch.length;
      }
      await it.close();
      if (n !== entries) throw new Error(`nextv saw ${n} of ${entries} entries`);
      return n;
    });
    await time('all', async () => {
      let n = 0;
      for (let j = 0; j < entries; j += 1000) {
        const rows = await a.iterator({ gte: keys[j], lt: keys[Math.min(entries - 1, j + 1000)] }).all();
        n += rows.length;
      }
      if (n !== entries - 1) throw new Error(`all() saw ${n} entries`);
      return n;
    });
    await time('clear-range', async () => {
      let n = 0;
      const half = Math.floor(entries / 2);
      for (let j = 0; j < half; j += 10_000) {
        const end = Math.min(half, j + 10_000);
        await a.clear({ gte: keys[j], lt: keys[end] });
        n += end - j;
      }
      const left = await a.get(keys[0]);
      if (entries > 1 && left !== undefined) throw new Error('clear() left a key behind');
      return n;
    });
  } finally {
    await a.close();
    await b.close();
    rmSync(root, { recursive: true, force: true });
  }
  const result: ChildResult = {
    engine,
    valueBytes,
    entries,
    opsPerSec: out,
    opsPerCpuSec: cpu,
    maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    diskBytesAfterFill,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function runChild(engine: string, valueBytes: number, entries: number, only: string | null) {
  return new Promise<ChildResult>((resolve, reject) => {
    const args = [
      ...process.execArgv,
      fileURLToPath(import.meta.url),
      '--child',
      engine,
      String(valueBytes),
      String(entries),
    ];
    if (only !== null) args.push('--only', only);
    const ratio = flag('--value-ratio');
    if (ratio !== null) args.push('--value-ratio', ratio);
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    p.stdout.on('data', (d) => {
      text += d;
    });
    p.on('error', reject);
    p.on('exit', (code) => {
      const line = text.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) reject(new Error(`${engine} child exited ${code}: ${text}`));
      else resolve(JSON.parse(line) as ChildResult);
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((p, q) => p - q);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en');
}

function size(bytes: number): string {
  return bytes >= 1024 ? `${bytes / 1024} KiB` : `${bytes} B`;
}

async function main() {
  const quick = process.argv.includes('--quick');
  const entriesWanted = Number(flag('--entries') ?? (quick ? 5000 : 100_000));
  const rounds = Number(flag('--rounds') ?? (quick ? 1 : 3));
  const valueSizes = (flag('--values') ?? (quick ? '100' : '100,1024,16384')).split(',').map(Number);
  const bytesCap = Number(flag('--bytes-cap') ?? 256) * 1024 * 1024;
  const engines = (flag('--engines') ?? 'lsm,leveldb').split(',');
  const only = flag('--only');
  let peerMissing = false;
  if (engines.includes('leveldb')) {
    try {
      await import('classic-level');
    } catch {
      peerMissing = true;
      console.log(
        'classic-level is not installed (pnpm install in the workspace adds it): measuring LsmLevel only.',
      );
    }
  }
  const active = engines.filter((e) => !(e === 'leveldb' && peerMissing));
  const load = loadavg()[0]!.toFixed(1);
  console.log(
    `abstract-level workloads: up to ${fmt(entriesWanted)} entries of ${KEY_BYTES}-byte keys, values ${valueSizes.map(size).join(', ')}, ${rounds} round(s), engines ${active.join(' / ')} alternated; load average ${load}`,
  );
  const results: (ChildResult & { round: number; order: number })[] = [];
  const runOrder: string[] = [];
  for (const valueBytes of valueSizes) {
    const entries = Math.max(1000, Math.min(entriesWanted, Math.floor(bytesCap / valueBytes)));
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? active : [...active].reverse();
      for (const [i, engine] of order.entries()) {
        const r = await runChild(engine, valueBytes, entries, only);
        results.push({ ...r, round, order: i });
        runOrder.push(`${size(valueBytes)} r${round + 1} ${engine}`);
        console.log(
          `  ${size(valueBytes).padEnd(7)} round ${round + 1} ${engine.padEnd(8)} rss ${r.maxRssMiB} MiB  ${Object.entries(
            r.opsPerSec,
          )
            .map(([w, v]) => `${w} ${fmt(v)} (${fmt(r.opsPerCpuSec[w as Workload] ?? 0)}/cpu-s)`)
            .join(', ')}`,
        );
      }
    }
  }
  const both = active.includes('lsm') && active.includes('leveldb');
  const header = both
    ? '| value | entries | workload | LsmLevel ops/s (min..max) | classic-level ops/s (min..max) | ratio | ratio per CPU-second |\n|---|---:|---|---:|---:|---:|---:|'
    : `| value | entries | workload | ${active[0]} ops/s (min..max) |\n|---|---:|---|---:|`;
  const rows: string[] = [];
  const summary: object[] = [];
  for (const valueBytes of valueSizes) {
    const mine = (engine: string) =>
      results.filter((r) => r.engine === engine && r.valueBytes === valueBytes);
    const entries = mine(active[0]!)[0]?.entries ?? 0;
    for (const w of WORKLOADS) {
      const cell = (engine: string, field: 'opsPerSec' | 'opsPerCpuSec' = 'opsPerSec') => {
        const xs = mine(engine)
          .map((r) => r[field][w])
          .filter((x): x is number => x !== undefined);
        return xs.length === 0 ? null : { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
      };
      const l = cell(active[0]!);
      if (l === null) continue;
      const text = (c: { median: number; min: number; max: number }) =>
        `${fmt(c.median)} (${fmt(c.min)}..${fmt(c.max)})`;
      if (both) {
        const lsm = cell('lsm')!;
        const leveldb = cell('leveldb')!;
        const ratio = lsm.median / leveldb.median;
        const lsmCpu = cell('lsm', 'opsPerCpuSec')!;
        const leveldbCpu = cell('leveldb', 'opsPerCpuSec')!;
        const cpuRatio = lsmCpu.median / leveldbCpu.median;
        rows.push(
          `| ${size(valueBytes)} | ${fmt(entries)} | ${w} | ${text(lsm)} | ${text(leveldb)} | ${ratio.toFixed(2)}× | ${cpuRatio.toFixed(2)}× |`,
        );
        summary.push({
          valueBytes,
          entries,
          workload: w,
          lsm,
          leveldb,
          ratio: Number(ratio.toFixed(3)),
          lsmPerCpuSecond: lsmCpu,
          leveldbPerCpuSecond: leveldbCpu,
          cpuRatio: Number(cpuRatio.toFixed(3)),
        });
      } else {
        rows.push(`| ${size(valueBytes)} | ${fmt(entries)} | ${w} | ${text(l)} |`);
        summary.push({ valueBytes, entries, workload: w, [active[0]!]: l });
      }
    }
    if (both) {
      const rss = (e: string) => median(mine(e).map((r) => r.maxRssMiB));
      rows.push(
        `| ${size(valueBytes)} | ${fmt(entries)} | peak RSS (MiB, median) | ${fmt(rss('lsm'))} | ${fmt(rss('leveldb'))} | | |`,
      );
    }
  }
  if (active.includes('baseline') && active.includes('lsm')) {
    // Before/after: this package against the copy named by LSM_BASELINE, per CPU-second too.
    const lines = [
      '| value | workload | baseline ops/s | now ops/s | now/baseline | per CPU-second |',
      '|---|---|---:|---:|---:|---:|',
    ];
    for (const valueBytes of valueSizes) {
      const runs = (e: string) => results.filter((r) => r.engine === e && r.valueBytes === valueBytes);
      for (const w of WORKLOADS) {
        const m = (e: string, f: 'opsPerSec' | 'opsPerCpuSec') => median(runs(e).map((r) => r[f][w] ?? 0));
        if (runs('lsm').every((r) => r.opsPerSec[w] === undefined)) continue;
        const [b, n, bc, nc] = [
          m('baseline', 'opsPerSec'),
          m('lsm', 'opsPerSec'),
          m('baseline', 'opsPerCpuSec'),
          m('lsm', 'opsPerCpuSec'),
        ];
        lines.push(
          `| ${size(valueBytes)} | ${w} | ${fmt(b)} | ${fmt(n)} | ${(n / b).toFixed(2)}× | ${(nc / bc).toFixed(2)}× |`,
        );
      }
    }
    console.log(`\n${lines.join('\n')}`);
    if (only === null || flag('--out') !== null)
      writeFileSync(
        new URL(`./results/${flag('--out') ?? 'abstract-level'}-before-after.md`, import.meta.url),
        `${lines.join('\n')}\n`,
      );
  }
  // Block compression: what each codec costs (ops/s against the uncompressed engine, lsm-none
  // when it ran, else lsm) and saves.
  const base = active.includes('lsm-none') ? 'lsm-none' : 'lsm';
  const packed = active.filter((e) => (e === 'lsm' || e.startsWith('lsm-')) && e !== base);
  if (active.includes(base) && packed.length > 0) {
    const lines = [
      `| value | workload | ${base} ops/s | ${packed.map((e) => `${e} ops/s (ratio)`).join(' | ')} |`,
      `|---|---|---:|${packed.map(() => '---:|').join('')}`,
    ];
    for (const valueBytes of valueSizes) {
      const runs = (e: string) => results.filter((r) => r.engine === e && r.valueBytes === valueBytes);
      for (const w of WORKLOADS) {
        if (runs(base).every((r) => r.opsPerSec[w] === undefined)) continue;
        const m = (e: string) => median(runs(e).map((r) => r.opsPerSec[w] ?? 0));
        lines.push(
          `| ${size(valueBytes)} | ${w} | ${fmt(m(base))} | ${packed.map((e) => `${fmt(m(e))} (${(m(e) / m(base)).toFixed(2)}×)`).join(' | ')} |`,
        );
      }
      const disk = (e: string) => median(runs(e).map((r) => r.diskBytesAfterFill ?? 0)) / 2 ** 20;
      lines.push(
        `| ${size(valueBytes)} | MiB on disk after the fills | ${disk(base).toFixed(1)} | ${packed.map((e) => `${disk(e).toFixed(1)} (${(disk(e) / disk(base)).toFixed(2)}×)`).join(' | ')} |`,
      );
    }
    console.log(`\n${lines.join('\n')}`);
    if (only === null || flag('--out') !== null)
      writeFileSync(
        new URL(`./results/${flag('--out') ?? 'abstract-level'}-compression.md`, import.meta.url),
        `${lines.join('\n')}\n\nValues compress to about ${flag('--value-ratio') ?? 1} of their size (--value-ratio); load average ${load} at the start; ${new Date().toISOString().slice(0, 16)}Z.\n`,
      );
  }
  const versions = both
    ? `classic-level ${(createRequire(import.meta.url)('classic-level/package.json') as { version: string }).version}`
    : '';
  const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`;
  const loadAtEnd = loadavg()[0]!.toFixed(1);
  const md = [
    header,
    ...rows,
    '',
    `Medians of ${rounds} round(s), each engine in its own process, alternated; ${KEY_BYTES}-byte keys; both engines with their defaults and sync: false; "ratio per CPU-second" compares operations per CPU-second of each process (all its threads), steadier than wall-clock on a loaded machine; ${versions}; ${machine}; load average ${load} at the start, ${loadAtEnd} at the end; ${new Date().toISOString().slice(0, 16)}Z.`,
  ].join('\n');
  console.log(`\n${md}`);
  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  const tag =
    flag('--out') ??
    (quick ? 'abstract-level-quick' : entriesWanted >= 1_000_000 ? 'abstract-level-1m' : 'abstract-level');
  if (only === null || flag('--out') !== null) {
    writeFileSync(
      new URL(`./${tag}.json`, dir),
      `${JSON.stringify({ machine, versions, loadAverageAtStart: Number(load), loadAverageAtEnd: Number(loadAtEnd), rounds, runOrder, descriptions: DESCRIPTIONS, summary, raw: results }, null, 2)}\n`,
    );
    writeFileSync(new URL(`./${tag}.md`, dir), `${md}\n`);
  }
}

if (process.argv[2] === '--child') {
  const [engine, valueBytes, entries] = process.argv.slice(3, 6);
  const only = flag('--only');
  await child(engine!, Number(valueBytes), Number(entries), only === null ? null : new Set(only.split(',')));
} else {
  await main();
}
