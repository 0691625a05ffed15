// `ddia batch run JOB --input DIR --output DIR [--reducers N]`: submits a job to a running
// coordinator, draws a progress bar of map and reduce tasks while it runs, and ends with a
// report (status, time, counters, the job page). The cli package wires its command to this.
import { basename } from 'node:path';
import { HttpClient, pollUntil } from '@ddia/common';

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
/** Per request to the coordinator (submitting plans the splits: it lists the input files). */
const REQUEST_DEADLINE_MS = 30_000;

function bar(done: number, total: number): string {
  const filled = total === 0 ? BAR_WIDTH : Math.round((done / total) * BAR_WIDTH);
  return `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${done}/${total}`;
}

/** Runs a job to its end; resolves with the final job record (status succeeded or failed). */
export async function runBatchJob(options: RunJobOptions): Promise<JobAnswer> {
  const out = options.out ?? process.stdout;
  const base = options.coordinator.replace(/\/+$/, '');
  const client = new HttpClient({ deadlineMs: REQUEST_DEADLINE_MS });
  try {
    const submitted = await client.request(`${base}/jobs`, {
      method: 'POST',
      body: {
        job: options.job,
        inputs: options.inputs.map((path) => ({ path, name: basename(path) })),
        output: options.output,
        ...(options.reducers !== undefined ? { reduces: options.reducers } : {}),
        ...(options.params ? { params: options.params } : {}),
      },
    });
    const answer = submitted.json<JobAnswer & { detail?: string; title?: string }>();
    if (submitted.status !== 201) {
      throw new Error(
        `the coordinator refused the job: ${answer.detail ?? answer.title ?? submitted.status}`,
      );
    }
    const id = answer.id;
    out.write(`job ${id}: ${options.job}, ${answer.maps ?? '?'} maps, ${answer.reduces ?? '?'} reduces\n`);
    let last = '';
    const record = await pollUntil(
      async () => {
        const r = await client.json<JobAnswer>(`${base}/jobs/${id}`);
        const tasks = r.tasks ?? [];
        const count = (kind: string) => tasks.filter((t) => t.kind === kind);
        const done = (kind: string) => count(kind).filter((t) => t.state === 'completed').length;
        const line = `map ${bar(done('map'), count('map').length)}  reduce ${bar(done('reduce'), count('reduce').length)}  ${r.status}`;
        if (line !== last) {
          out.write(out.isTTY ? `\r${line}` : `${line}\n`);
          last = line;
        }
        return r.status === 'succeeded' || r.status === 'failed' ? r : undefined;
      },
      {
        timeoutMs: Number.POSITIVE_INFINITY,
        intervalMs: options.pollMs ?? POLL_MS_DEFAULT,
        what: `job ${id}`,
      },
    );
    if (out.isTTY) out.write('\n');
    const seconds = record.durationMs != null ? `${(record.durationMs / 1000).toFixed(1)} s` : '';
    out.write(`${record.status} ${seconds}${record.error ? `: ${record.error}` : ''}\n`);
    for (const [name, value] of Object.entries(record.counters ?? {}))
      out.write(`  ${name.padEnd(24)} ${value}\n`);
    out.write(`output: ${options.output}/part-*  page: ${base}/jobs/${id}/page\n`);
    return record;
  } finally {
    await client.close();
  }
}
