// LevelDB's db_bench workloads through the abstract-level API, for our engine and for
// classic-level (LevelDB 1.x) in the same run with the same settings; RocksDB's db_bench
// (Debian rocksdb-tools) as a third column where installed. One op at a time, awaited, as
// db_bench runs them single-threaded.
// Usage: node --import tsx bench/run.ts --suite db-bench [--quick] [--n N] [--engines lsm,leveldb,rocksdb] [--until W]
//        node --import tsx bench/run.ts [--suite abstract-level] [...]: see bench/abstract-level.ts
//        (the default: issue 26's abstract-level workloads, what `pnpm bench --quick` smoke-runs).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeededRandom } from '@ddia/common';
import { ClassicLevel } from 'classic-level';
import { LsmLevel } from '../src/index.js';

const args = process.argv.slice(2);
const suiteFlag = args.indexOf('--suite');
if (suiteFlag < 0 || args[suiteFlag + 1] !== 'db-bench') {
  // The abstract-level API workloads (bench/abstract-level.ts), unless db_bench's are asked for.
  await import('./abstract-level.js');
  process.exit(0);
}
const quick = args.includes('--quick');
const nFlag = args.indexOf('--n');
const N = nFlag >= 0 ? Number(args[nFlag + 1]) : quick ? 20_000 : 1_000_000;
const untilFlag = args.indexOf('--until');
/** `--until overwrite` stops each engine after that workload (profiling the write path). */
const UNTIL = untilFlag >= 0 ? args[untilFlag + 1]! : null;
const enginesFlag = args.indexOf('--engines');
/** `--engines lsm` runs one engine alone (for profiling); the default runs both and RocksDB. */
const ENGINES = enginesFlag >= 0 ? args[enginesFlag + 1]!.split(',') : ['lsm', 'leveldb', 'rocksdb'];
const KEY_BYTES = 16;
const VALUE_BYTES = 100;
const WRITE_BUFFER_BYTES = 4 * 1024 * 1024;
const CACHE_BYTES = 8 * 1024 * 1024;
const WORKLOADS = [
  'fillseq',
  'fillrandom',
  'overwrite',
  'readrandom',
  'readseq',
  'seekrandom',
  'deleterandom',
] as const;
type Workload = (typeof WORKLOADS)[number];

// biome-ignore lint/suspicious/noExplicitAny: both engines share abstract-level's API.
type Db = any;

function key(i: number): Buffer {
  return Buffer.from(String(i).padStart(KEY_BYTES, '0'));
}

const random = new SeededRandom(301);
const values = Buffer.alloc(VALUE_BYTES * 1024);
for (let i = 0; i < values.length; i++) values[i] = random.int(0, 255);
const value = (i: number) =>
  values.subarray((i % 1000) * VALUE_BYTES, (i % 1000) * VALUE_BYTES + VALUE_BYTES);

const engines: Record<string, (dir: string) => Db> = {
  lsm: (dir) =>
    new LsmLevel(dir, {
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
      writeBufferBytes: WRITE_BUFFER_BYTES,
      blockCacheBytes: CACHE_BYTES,
    }),
  leveldb: (dir) =>
    new ClassicLevel(dir, {
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
      writeBufferSize: WRITE_BUFFER_BYTES,
      cacheSize: CACHE_BYTES,
      compression: false,
    }),
};

async function run(name: string): Promise<Record<Workload, number>> {
  const root = mkdtempSync(join(tmpdir(), `bench-${name}-`));
  const out = {} as Record<Workload, number>;
  const order = Array.from({ length: N }, (_, i) => i);
  const shuffled = new SeededRandom(7).shuffle([...order]);
  let stopped = false;
  const time = async (w: Workload, ops: number, body: () => Promise<void>) => {
    if (stopped) return;
    if (w === UNTIL) stopped = true;
    const start = performance.now();
    await body();
    const seconds = (performance.now() - start) / 1000;
    out[w] = Math.round(ops / seconds);
    console.log(`  ${name.padEnd(8)} ${w.padEnd(13)} ${String(out[w]).padStart(9)} ops/s`);
  };
  let db: Db = engines[name]!(join(root, 'seq'));
  await db.open();
  await time('fillseq', N, async () => {
    for (let i = 0; i < N; i++) await db.put(key(i), value(i));
  });
  await db.close();
  db = engines[name]!(join(root, 'random'));
  await db.open();
  await time('fillrandom', N, async () => {
    for (const i of shuffled) await db.put(key(i), value(i));
  });
  if (name === 'lsm') {
    const s = db.stats();
    console.log(
      `  ${name.padEnd(8)} after fillrandom: ${s.stalls.count} write stalls, ${s.stalls.ms} ms stalled, write amplification ${s.writeAmplification.toFixed(2)}, ${s.compactions} compactions`,
    );
  }
  await time('overwrite', N, async () => {
    for (let j = 0; j < N; j++) {
      const i = shuffled[(j * 7) % N]!;
      await db.put(key(i), value(i + 1));
    }
  });
  // Let both settle their background compactions before timing reads.
  if (name === 'lsm') await db.lsm.waitForIdle();
  else await db.compactRange(key(0), key(N));
  await time('readrandom', N, async () => {
    for (let j = 0; j < N; j++) {
      const v = await db.get(key(shuffled[(j * 13) % N]!));
      if (v === undefined) throw new Error('readrandom missed a key');
    }
  });
  await time('readseq', N, async () => {
    let n = 0;
    for await (const _ of db.iterator()) n++;
    if (n !== N) throw new Error(`readseq saw ${n} entries`);
  });
  await time('seekrandom', N, async () => {
    const it = db.iterator();
    for (let j = 0; j < N; j++) {
      it.seek(key(shuffled[(j * 17) % N]!));
      await it.next();
    }
    await it.close();
  });
  await time('deleterandom', N, async () => {
    for (const i of shuffled) await db.del(key(i));
  });
  await db.close();
  rmSync(root, { recursive: true, force: true });
  return out;
}

function rocksdb(): Record<Workload, number> | null {
  const which = spawnSync('sh', ['-c', 'command -v db_bench || command -v rocksdb_bench'], {
    encoding: 'utf8',
  });
  const bin = which.stdout.trim();
  if (!bin) {
    console.log(
      'RocksDB db_bench not found: `apt-get update && apt-get install -y rocksdb-tools` adds it as a third column.',
    );
    return null;
  }
  const dir = mkdtempSync(join(tmpdir(), 'bench-rocksdb-'));
  const text = execFileSync(
    bin,
    [
      `--benchmarks=${WORKLOADS.join(',')}`,
      `--num=${N}`,
      `--key_size=${KEY_BYTES}`,
      `--value_size=${VALUE_BYTES}`,
      '--compression_type=none',
      `--write_buffer_size=${WRITE_BUFFER_BYTES}`,
      `--cache_size=${CACHE_BYTES}`,
      '--bloom_bits=10',
      '--threads=1',
      `--db=${dir}`,
    ],
    // Its progress lines go to stderr: capture them rather than flood the terminal.
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  rmSync(dir, { recursive: true, force: true });
  const out = {} as Record<Workload, number>;
  for (const w of WORKLOADS) {
    const m = new RegExp(`^${w}\\s*:\\s*[\\d.]+ micros/op (\\d+) ops/sec`, 'm').exec(text);
    if (m) out[w] = Number(m[1]);
  }
  return out;
}

console.log(
  `db_bench workloads: ${N} entries, ${KEY_BYTES}-byte keys, ${VALUE_BYTES}-byte values, one op at a time`,
);
const skipped = {} as Record<Workload, number>;
const lsm = ENGINES.includes('lsm') ? await run('lsm') : skipped;
const leveldb = ENGINES.includes('leveldb') ? await run('leveldb') : skipped;
const rocks = ENGINES.includes('rocksdb') ? rocksdb() : null;
if (!ENGINES.includes('lsm') || !ENGINES.includes('leveldb')) process.exit(0);
const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`;
const rows = WORKLOADS.map((w) => ({
  workload: w,
  lsmOpsPerSec: lsm[w],
  leveldbOpsPerSec: leveldb[w],
  ratio: Number((lsm[w] / leveldb[w]).toFixed(2)),
  rocksdbDbBenchOpsPerSec: rocks?.[w] ?? null,
}));
const md = [
  `| workload | @ddia/lsm-engine ops/s | classic-level (LevelDB) ops/s | ratio | RocksDB db_bench ops/s |`,
  `|---|---:|---:|---:|---:|`,
  ...rows.map(
    (r) =>
      `| ${r.workload} | ${r.lsmOpsPerSec.toLocaleString('en')} | ${r.leveldbOpsPerSec.toLocaleString('en')} | ${r.ratio.toFixed(2)}x | ${r.rocksdbDbBenchOpsPerSec?.toLocaleString('en') ?? 'n/a'} |`,
  ),
  '',
  `${N.toLocaleString('en')} entries, ${KEY_BYTES}-byte keys, ${VALUE_BYTES}-byte values, no compression, 4 MiB write buffer, 8 MiB block cache; ${machine}; ${new Date().toISOString().slice(0, 10)}.`,
].join('\n');
console.log(`\n${md}`);
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
const tag = quick ? 'db-bench-quick' : 'db-bench';
writeFileSync(
  new URL(`./results/${tag}.json`, import.meta.url),
  `${JSON.stringify({ n: N, machine, rows }, null, 2)}\n`,
);
writeFileSync(new URL(`./results/${tag}.md`, import.meta.url), `${md}\n`);
