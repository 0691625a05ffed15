// Two of chapter 3's claims, measured: what the Bloom filter saves on reads of absent keys,
// and leveled vs size-tiered write and space amplification under the same load.
// Usage: node --import tsx bench/amplification.ts [--quick]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeededRandom } from '@ddia/common';
import { LsmLevel, type LsmLevelOptions } from '../src/index.js';

const quick = process.argv.includes('--quick');
const KEYS = quick ? 20_000 : 200_000;
const WRITES = KEYS * 3;
const VALUE = Buffer.alloc(100, 0x61);
const key = (i: number) => Buffer.from(String(i).padStart(16, '0'));

/** Loads WRITES random overwrites of KEYS keys; `spacing` 2 writes only even key numbers. */
async function load(options: LsmLevelOptions, spacing = 1) {
  const dir = mkdtempSync(join(tmpdir(), 'amp-'));
  const db = new LsmLevel(dir, {
    keyEncoding: 'buffer',
    valueEncoding: 'buffer',
    writeBufferBytes: 1024 * 1024,
    ...options,
  });
  await db.open();
  const random = new SeededRandom(42);
  for (let j = 0; j < WRITES; j++) await db.put(key(spacing * random.int(0, KEYS - 1)), VALUE);
  await db.lsm.waitForIdle();
  return { db, dir };
}

const results: Record<string, unknown> = {};
// Leveled vs size-tiered: the same random overwrites (each key written ~3 times).
for (const compaction of ['leveled', 'tiered'] as const) {
  const { db, dir } = await load({ compaction, levelBaseBytes: 4 * 1024 * 1024 });
  const before = db.stats();
  await db.compact();
  const after = db.stats();
  results[compaction] = {
    writeAmplification: Number(before.writeAmplification.toFixed(2)),
    spaceAmplificationEstimate: Number(before.spaceAmplification.toFixed(2)),
    spaceAmplificationMeasured: Number((before.bytes.tables / after.bytes.tables).toFixed(2)),
    tables: before.levels.reduce((s, l) => s + l.files, 0),
    compactions: before.compactions,
  };
  await db.close();
  rmSync(dir, { recursive: true, force: true });
}
// Bloom filter: reads of keys that are not there, with 10 bits per key and with none. Only
// even key numbers are written and odd ones are read, so every absent key lies inside the
// key range of the tables it visits: the range check cannot skip them, only the filter can.
for (const bits of [10, 0]) {
  const { db, dir } = await load(
    { bloomBitsPerKey: bits, blockCacheBytes: 1024 * 1024, compaction: 'leveled' },
    2,
  );
  const before = db.stats();
  const reads = KEYS;
  // Random odd keys: in key order, consecutive lookups would share cached blocks.
  const probes = new SeededRandom(7);
  const start = performance.now();
  for (let i = 0; i < reads; i++) {
    if ((await db.get(key(2 * probes.int(0, KEYS - 1) + 1))) !== undefined)
      throw new Error('an odd key was found');
  }
  const seconds = (performance.now() - start) / 1000;
  const s = db.stats();
  results[`bloom${bits}`] = {
    bitsPerKey: bits,
    absentReadsPerSec: Math.round(reads / seconds),
    tableProbesPerLookup: Number(((s.reads.tableProbes - before.reads.tableProbes) / reads).toFixed(3)),
    blockSearchesPerLookup: Number(
      ((s.reads.dataBlockSearches - before.reads.dataBlockSearches) / reads).toFixed(3),
    ),
    blockSearchesPerProbe: Number(
      (
        (s.reads.dataBlockSearches - before.reads.dataBlockSearches) /
        Math.max(1, s.reads.tableProbes - before.reads.tableProbes)
      ).toFixed(4),
    ),
    blockReadsFromDiskPerLookup: Number(
      ((s.blockCache.misses - before.blockCache.misses) / reads).toFixed(3),
    ),
    tables: s.levels.reduce((n, l) => n + l.files, 0),
  };
  await db.close();
  rmSync(dir, { recursive: true, force: true });
}
const l = results.leveled as Record<string, number>;
const t = results.tiered as Record<string, number>;
const b10 = results.bloom10 as Record<string, number>;
const b0 = results.bloom0 as Record<string, number>;
const md = [
  `| compaction | write amplification | space amplification (estimate) | space amplification (measured) | tables |`,
  `|---|---:|---:|---:|---:|`,
  `| leveled | ${l.writeAmplification} | ${l.spaceAmplificationEstimate} | ${l.spaceAmplificationMeasured} | ${l.tables} |`,
  `| size-tiered | ${t.writeAmplification} | ${t.spaceAmplificationEstimate} | ${t.spaceAmplificationMeasured} | ${t.tables} |`,
  '',
  `| Bloom filter | absent-key reads/s | tables probed per lookup | data blocks searched per lookup | blocks searched per table probed | block cache misses per lookup | tables |`,
  `|---|---:|---:|---:|---:|---:|---:|`,
  ...(
    [
      ['10 bits/key', b10],
      ['none', b0],
    ] as const
  ).map(
    ([name, b]) =>
      `| ${name} | ${b.absentReadsPerSec!.toLocaleString('en')} | ${b.tableProbesPerLookup} | ${b.blockSearchesPerLookup} | ${b.blockSearchesPerProbe} | ${b.blockReadsFromDiskPerLookup} | ${b.tables} |`,
  ),
  '',
  `${KEYS.toLocaleString('en')} keys, ${WRITES.toLocaleString('en')} random writes of 100-byte values; measured space amplification = table bytes before / after a major compaction. Bloom rows: only even keys written, odd (absent) keys read, 1 MiB block cache.`,
].join('\n');
console.log(md);
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
const tag = quick ? 'amplification-quick' : 'amplification';
writeFileSync(
  new URL(`./results/${tag}.json`, import.meta.url),
  `${JSON.stringify({ keys: KEYS, writes: WRITES, results }, null, 2)}\n`,
);
writeFileSync(new URL(`./results/${tag}.md`, import.meta.url), `${md}\n`);
