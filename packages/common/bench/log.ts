// Log append throughput: our Log under each fsync policy and concurrency, beside a plain
// `fs.writeSync` + `fdatasync` loop on the same disk. Usage: pnpm --filter @ddia/common bench [--quick]
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Log } from '../src/index.js';

const QUICK = process.argv.includes('--quick');
const RECORD_BYTES = 100;
const SYNCED_RECORDS = QUICK ? 200 : 3_000;
const GROUP_RECORDS = QUICK ? 2_000 : 30_000;
const record = Buffer.alloc(RECORD_BYTES, 7);

interface Row {
  name: string;
  records: number;
  seconds: number;
  appendsPerSec: number;
  fsyncs: number;
}

function progress(text: string): void {
  process.stderr.write(`  ${text}\n`);
}

function plainLoop(dir: string, records: number): Row {
  const fd = openSync(join(dir, 'plain.bin'), 'w');
  const started = performance.now();
  for (let i = 0; i < records; i++) {
    writeSync(fd, record);
    fdatasyncSync(fd);
  }
  const seconds = (performance.now() - started) / 1000;
  closeSync(fd);
  return {
    name: 'plain writeSync + fdatasync per record',
    records,
    seconds,
    appendsPerSec: records / seconds,
    fsyncs: records,
  };
}

async function logRun(
  dir: string,
  name: string,
  policy: 'always' | 'group' | 'never',
  writers: number,
  records: number,
): Promise<Row> {
  const log = await Log.open({ dir: join(dir, name.replaceAll(/\W+/g, '-')), fsync: policy });
  const perWriter = Math.ceil(records / writers);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async () => {
      for (let i = 0; i < perWriter; i++) await log.append(record);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const fsyncs = log.stats.fsyncs;
  await log.close();
  const total = perWriter * writers;
  return { name, records: total, seconds, appendsPerSec: total / seconds, fsyncs };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ddia-log-bench-'));
  const rows: Row[] = [];
  try {
    progress(`plain loop, ${SYNCED_RECORDS} records`);
    rows.push(plainLoop(dir, SYNCED_RECORDS));
    progress('Log always, 1 writer');
    rows.push(await logRun(dir, 'Log fsync=always, 1 writer', 'always', 1, SYNCED_RECORDS));
    progress('Log group, 1 writer');
    rows.push(await logRun(dir, 'Log fsync=group, 1 writer', 'group', 1, SYNCED_RECORDS));
    for (const writers of [16, 64]) {
      progress(`Log group, ${writers} writers`);
      rows.push(
        await logRun(dir, `Log fsync=group, ${writers} concurrent writers`, 'group', writers, GROUP_RECORDS),
      );
    }
    progress('Log never (page cache only)');
    rows.push(await logRun(dir, 'Log fsync=never, 1 writer', 'never', 1, GROUP_RECORDS));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const plain = rows[0]!.appendsPerSec;
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ${tmpdir()}`;
  const lines = [
    `Machine: ${machine}; ${RECORD_BYTES}-byte records${QUICK ? ' (quick run)' : ''}`,
    '',
    '| workload | records | appends/s | fsyncs | vs plain loop |',
    '|---|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${r.records} | ${Math.round(r.appendsPerSec).toLocaleString('en')} | ${r.fsyncs} | ${(r.appendsPerSec / plain).toFixed(2)}× |`,
    ),
  ];
  console.log(lines.join('\n'));
  if (!QUICK) {
    writeFileSync(
      new URL('./results/log.json', import.meta.url),
      `${JSON.stringify({ machine, recordBytes: RECORD_BYTES, date: new Date().toISOString(), rows }, null, 2)}\n`,
    );
    writeFileSync(new URL('./results/log.md', import.meta.url), `${lines.join('\n')}\n`);
  }
}

await main();
