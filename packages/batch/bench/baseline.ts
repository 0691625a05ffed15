// The single-process Node baseline (run as a child process by bench/run.ts): the same job
// module, the same record reader, no engine. Splits are read one after another; each emitted
// pair goes into one in-memory hash map, and a key's pending values are folded with the job's
// combiner every COMBINE_EVERY values, so memory stays one entry per key (what a careful
// programmer writes by hand). Prints {ms, cpuMs, lines, digest, peakRssMiB} as JSON.
//   node --import tsx bench/baseline.ts <job> <dir> <format>
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { planSplits } from '../dist/core/splits.js';
import { listFiles } from '../dist/disk.js';
import { readSplit } from '../dist/input.js';
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
const groups = new Map<string, string[]>();
const base = { module: '', jobId: 'baseline', taskIndex: 0, reduces: 1, params: {}, hotKeys: {} };
const mapCtx = taskContext({ ...base, kind: 'map' }, basename(dir), dir);
const emit: Emit = (key, value) => {
  const values = groups.get(key);
  if (!values) {
    groups.set(key, [value]);
    return;
  }
  values.push(value);
  if (values.length >= COMBINE_EVERY) groups.set(key, [combine(key, values, mapCtx)]);
};
if (module.setup) await module.setup(mapCtx);
const files = (await listFiles(dir)).map((f) => ({ ...f, input: basename(dir), format }));
for (const split of planSplits(files, SPLIT_BYTES)) {
  for (const record of (await readSplit(split, 'fail')).records) await module.map(record, emit, mapCtx);
}
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
