// The single-process Node baseline (run as a child process by bench/run.ts): the same job
// module, the same record reader as the engine (readSplitBatches), no engine. Splits are read
// one after another; each emitted pair goes into one in-memory hash map, folded into the key's
// accumulator by the job's aggregator (or, for a job without one, its values folded by the
// combiner every COMBINE_EVERY), so memory stays one entry per key (what a careful programmer
// writes by hand). Prints {ms, cpuMs, lines, digest, peakRssMiB} as JSON.
//   node --import tsx bench/baseline.ts <job> <dir> <format>
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { planSplits } from '../dist/core/splits.js';
import { listFiles } from '../dist/disk.js';
import { jobColumns, readSplitBatches } from '../dist/input.js';
import type { Emit } from '../dist/job.js';
import { loadJobModule, resolveJobModule, taskContext } from '../dist/job-loader.js';

const COMBINE_EVERY = 64;
const SPLIT_BYTES = 4 * 2 ** 20;

const [job, dir, format] = process.argv.slice(2) as [string, string, 'text' | 'csv'];
const started = performance.now();
const cpuStarted = process.cpuUsage();
const module = await loadJobModule(resolveJobModule(job));
if (!module.combine) throw new Error(`${job} has no combiner: the baseline needs one`);
const combine = module.combine;
const base = { module: '', jobId: 'baseline', taskIndex: 0, reduces: 1, params: {}, hotKeys: {} };
const mapCtx = taskContext({ ...base, kind: 'map' }, basename(dir), dir);
// With the job's aggregator (as the engine's map side uses it) a key holds one accumulator;
// without, its values are folded by the combiner every COMBINE_EVERY.
const aggregator = module.aggregator;
const accs = new Map<string, unknown>();
const groups = new Map<string, string[]>();
const emit: Emit = aggregator
  ? (key, value) => {
      const acc = accs.get(key);
      accs.set(key, acc === undefined ? aggregator.create(value) : aggregator.add(acc, value));
    }
  : (key, emitted) => {
      const value = String(emitted);
      const values = groups.get(key);
      if (!values) {
        groups.set(key, [value]);
        return;
      }
      values.push(value);
      if (values.length >= COMBINE_EVERY) groups.set(key, [combine(key, values, mapCtx)]);
    };
if (module.setup) await module.setup(mapCtx);
const columns = jobColumns(module, mapCtx);
const files = (await listFiles(dir)).map((f) => ({ ...f, input: basename(dir), format }));
for (const split of planSplits(files, SPLIT_BYTES)) {
  for await (const { records } of readSplitBatches(split, 'fail', columns)) {
    for (const record of records) {
      const result = module.map(record, emit, mapCtx);
      if (result instanceof Promise) await result;
    }
  }
}
if (aggregator) for (const [key, acc] of accs) groups.set(key, [aggregator.result(acc)]);
const reduceCtx = taskContext({ ...base, kind: 'reduce' }, '', '');
const lines: string[] = [];
const out: Emit = (key, value) => lines.push(`${key}\t${value}`);
for (const key of [...groups.keys()].sort()) {
  const result = await module.reduce(key, groups.get(key)!.sort(), out, reduceCtx);
  if (result !== undefined && result !== null) out(key, String(result));
}
const ms = performance.now() - started;
lines.sort();
const digest = createHash('sha256').update(lines.join('\n')).digest('hex');
process.stdout.write(
  `${JSON.stringify({ ms, cpuMs: cpuMsSince(cpuStarted), lines: lines.length, digest, peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) })}\n`,
);

/** CPU time (user + system, every thread of this process) since `from`, in ms. */
function cpuMsSince(from: NodeJS.CpuUsage): number {
  const { user, system } = process.cpuUsage(from);
  return (user + system) / 1000;
}
