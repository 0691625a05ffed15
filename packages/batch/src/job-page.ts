// GET /jobs/:id/page: a job as a small HTML page (status, counters, a row per task attempt).
import type { JobRecord } from './coordinator.js';

function html(text: unknown): string {
  return String(text ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function renderJobPage(job: JobRecord): string {
  const counters = Object.entries(job.counters)
    .map(([name, value]) => `<tr><td>${html(name)}</td><td>${html(value)}</td></tr>`)
    .join('');
  const hot = Object.entries(job.hotKeys ?? {});
  const hotKeys =
    hot.length === 0
      ? ''
      : `<h2>Sampled hot keys</h2><table><tr><th>key</th><th>spread over reducers</th></tr>${hot
          .map(([key, fanout]) => `<tr><td>${html(key)}</td><td>${fanout}</td></tr>`)
          .join('')}</table>`;
  // The reducers' loads side by side: skew shows as one long bar.
  const reduces = (job.tasks ?? []).filter((t) => t.kind === 'reduce');
  const most = Math.max(1, ...reduces.map((t) => t.counters?.reduceInputRecords ?? 0));
  const loads = reduces
    .map((t) => {
      const n = t.counters?.reduceInputRecords ?? 0;
      return `<tr><td>reduce ${t.index}</td><td>${n}</td><td><div style="background:#69c;height:0.8em;width:${Math.round((300 * n) / most)}px"></div></td></tr>`;
    })
    .join('');
  const attempts = (job.tasks ?? [])
    .flatMap((task) =>
      task.attempts.map(
        (a) =>
          `<tr><td>${task.kind} ${task.index}</td><td>${html(a.id)}${a.backup ? ' (backup)' : ''}</td><td>${html(a.worker)}</td>` +
          `<td>${html(a.status)}</td><td>${a.startMs}</td><td>${a.durationMs ?? ''}</td><td>${html(a.error)}</td></tr>`,
      ),
    )
    .join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>${html(job.id)}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px}</style>
</head><body><h1>${html(job.id)}: ${html(job.job)} — ${html(job.status)}</h1>
${job.error ? `<p style="color:#b00">${html(job.error)}</p>` : ''}
<p>output: <code>${html(job.output)}</code>, ${job.splits.length} map tasks, ${job.reduces} reduce tasks,
submitted ${html(job.submittedAt)}${job.durationMs !== null ? `, took ${job.durationMs} ms` : ''}.
JSON: <a href="/jobs/${html(job.id)}">/jobs/${html(job.id)}</a>, API: <a href="/docs">/docs</a></p>
<h2>Counters</h2><table>${counters}</table>
${hotKeys}
${loads ? `<h2>Reduce input records (load per reducer)</h2><table>${loads}</table>` : ''}
<h2>Task attempts</h2><table><tr><th>task</th><th>attempt</th><th>worker</th><th>status</th><th>start (ms)</th><th>took (ms)</th><th>error</th></tr>${attempts}</table>
</body></html>`;
}
