// `ddia batch run JOB --input DIR --output DIR [--reducers N]`: submits a job to a running
// coordinator, draws a progress bar of map and reduce tasks while it runs, and ends with a
// report (status, time, counters, the job page). The cli package wires its command to this.
import { basename } from 'node:path';

export interface RunJobOptions {
  coordinator: string;
  job: string;
  inputs: string[];
  output: string;
  reducers?: number;
  params?: Record<string, string>;
  /** Where the progress and the report go (a TTY redraws one line; otherwise a line per change). */
  out?: { write(text: string): unknown; isTTY?: boolean };
  pollMs?: number;
}

interface JobAnswer {
  id: string;
  status: string;
  error?: string | null;
  durationMs?: number | null;
  counters?: Record<string, number>;
  tasks?: { kind: 'map' | 'reduce'; state: string }[] | null;
  maps?: number;
  reduces?: number;
}

const BAR_WIDTH = 30;
const POLL_MS_DEFAULT = 250;

function bar(done: number, total: number): string {
  const filled = total === 0 ? BAR_WIDTH : Math.round((done / total) * BAR_WIDTH);
  return `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${done}/${total}`;
}

async function call(url: string, body?: unknown): Promise<{ status: number; json: JobAnswer }> {
  const res = await fetch(url, {
    method: body === undefined ? 'GET' : 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as JobAnswer };
}

/** Runs a job to its end; resolves with the final job record (status succeeded or failed). */
export async function runBatchJob(options: RunJobOptions): Promise<JobAnswer> {
  const out = options.out ?? process.stdout;
  const base = options.coordinator.replace(/\/+$/, '');
  const submitted = await call(`${base}/jobs`, {
    job: options.job,
    inputs: options.inputs.map((path) => ({ path, name: basename(path) })),
    output: options.output,
    ...(options.reducers !== undefined ? { reduces: options.reducers } : {}),
    ...(options.params ? { params: options.params } : {}),
  });
  if (submitted.status !== 201) {
    const problem = submitted.json as unknown as { detail?: string; title?: string };
    throw new Error(
      `the coordinator refused the job: ${problem.detail ?? problem.title ?? submitted.status}`,
    );
  }
  const id = submitted.json.id;
  out.write(
    `job ${id}: ${options.job}, ${submitted.json.maps ?? '?'} maps, ${submitted.json.reduces ?? '?'} reduces\n`,
  );
  let last = '';
  let record: JobAnswer;
  for (;;) {
    record = (await call(`${base}/jobs/${id}`)).json;
    const tasks = record.tasks ?? [];
    const count = (kind: string) => tasks.filter((t) => t.kind === kind);
    const done = (kind: string) => count(kind).filter((t) => t.state === 'completed').length;
    const line = `map ${bar(done('map'), count('map').length)}  reduce ${bar(done('reduce'), count('reduce').length)}  ${record.status}`;
    if (line !== last) {
      out.write(out.isTTY ? `\r${line}` : `${line}\n`);
      last = line;
    }
    if (record.status === 'succeeded' || record.status === 'failed') break;
    await new Promise((r) => setTimeout(r, options.pollMs ?? POLL_MS_DEFAULT));
  }
  if (out.isTTY) out.write('\n');
  const seconds = record.durationMs != null ? `${(record.durationMs / 1000).toFixed(1)} s` : '';
  out.write(`${record.status} ${seconds}${record.error ? `: ${record.error}` : ''}\n`);
  for (const [name, value] of Object.entries(record.counters ?? {}))
    out.write(`  ${name.padEnd(24)} ${value}\n`);
  out.write(`output: ${options.output}/part-*  page: ${base}/jobs/${id}/page\n`);
  return record;
}
