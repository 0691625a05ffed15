// What the dashboard (dashboard.ts) and the per-cluster Raft pages (raft-page.ts) share: the CSS
// and the page script's helpers (escaping, the query API, tables, SVG line charts).

/** CSS shared by the dashboard and the per-cluster pages. */
export const PAGE_STYLE = `  body { font: 14px system-ui, sans-serif; margin: 1.5rem; color: #222; background: #fafafa; }
  h1 { font-size: 1.3rem; } h2 { font-size: 1.05rem; margin-top: 1.5rem; }
  table { border-collapse: collapse; background: #fff; }
  td, th { border: 1px solid #ddd; padding: .3rem .6rem; text-align: left; }
  .up { background: #d4f7d4; } .down { background: #f9c9c9; } .unknown { background: #eee; }
  .firing { color: #b00; font-weight: bold; } .pending { color: #a60; }
  .charts { display: flex; flex-wrap: wrap; gap: 1rem; }
  .chart { background: #fff; border: 1px solid #ddd; padding: .5rem; }
  .chart h3 { font-size: .9rem; margin: 0 0 .3rem 0; font-family: monospace; }
  svg text { font-size: 10px; fill: #555; }
  #error { color: #b00; }
  #waterfall { background: #fff; border: 1px solid #ddd; padding: .5rem; width: 900px; }
  .wf-row { display: flex; align-items: center; height: 20px; font: 12px monospace; }
  .wf-name { width: 320px; flex: none; box-sizing: border-box; overflow: hidden; white-space: nowrap; text-overflow: ellipsis; }
  .wf-lane { position: relative; flex: 1; height: 14px; background: #f4f4f4; }
  .bar { position: absolute; top: 0; height: 14px; background: #1f77b4; min-width: 1px; }
  .bar.client { background: #9467bd; } .bar.error { background: #d62728; }
  #traces tr { cursor: pointer; } #traces tr.selected { outline: 2px solid #1f77b4; }
`;

/** Page script shared by the dashboard and the per-cluster pages: escaping, the API, tables, SVG line charts. */
export const PAGE_HELPERS = `const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
async function api(path) {
  const r = await fetch(path);
  const body = await r.json();
  if (body.status !== 'success') throw new Error(body.error || r.statusText);
  return body.data;
}
// Draws now and again every \`seconds\`, the next redraw timed from the end of this one so that
// slow answers never pile up (overlapping redraws once slowed the browser test sixfold).
async function redrawEvery(draw, seconds) {
  await draw();
  setTimeout(() => redrawEvery(draw, seconds), Math.max(0.2, seconds) * 1000);
}
function rows(id, html) { document.querySelector('#' + id + ' tbody').innerHTML = html.join(''); }
function labelText(m) { return Object.entries(m).filter(([k]) => k !== '__name__').map(([k, v]) => k + '=' + v).join(', '); }
function chart(title, series, start, end) {
  const W = 420, H = 160, P = 30;
  let lo = Infinity, hi = -Infinity;
  for (const s of series) for (const [, v] of s.values) { const x = Number(v); if (Number.isFinite(x)) { lo = Math.min(lo, x); hi = Math.max(hi, x); } }
  if (!Number.isFinite(lo)) { lo = 0; hi = 1; }
  if (hi === lo) { hi = lo + 1; }
  const X = (t) => P + (t - start) / (end - start) * (W - P - 5);
  const Y = (v) => H - 15 - (v - lo) / (hi - lo) * (H - 25);
  let svg = '<svg width="' + W + '" height="' + H + '" data-series="' + series.length + '">';
  svg += '<text x="2" y="12">' + hi.toPrecision(3) + '</text><text x="2" y="' + (H - 15) + '">' + lo.toPrecision(3) + '</text>';
  series.forEach((s, i) => {
    const pts = s.values.filter(([, v]) => Number.isFinite(Number(v))).map(([t, v]) => X(t).toFixed(1) + ',' + Y(Number(v)).toFixed(1));
    svg += '<polyline fill="none" stroke-width="1.5" stroke="' + COLORS[i % COLORS.length] + '" points="' + pts.join(' ') + '"><title>' + esc(labelText(s.metric)) + '</title></polyline>';
  });
  svg += '</svg>';
  return '<div class="chart"><h3>' + esc(title) + '</h3>' + svg + '</div>';
}
`;

/**
 * The page script's view of a Raft cluster: which scraped jobs export Raft metrics, and the names
 * they use. kv-store's names (packages/kv-store/src/metrics.ts) are the convention: a service whose
 * metrics start with `<prefix>_` exports `<prefix>_raft_term`, `_raft_commit_index`,
 * `_applied_index`, `_raft_is_leader`, `_leader_changes_total` and, on the leader,
 * `_follower_lag_entries{follower}`. A job is a Raft cluster when it exports `<prefix>_raft_term`.
 */
export const RAFT_HELPERS = `function raftMetrics(prefix) {
  return { term: prefix + '_raft_term', commit: prefix + '_raft_commit_index', applied: prefix + '_applied_index',
    leader: prefix + '_raft_is_leader', leaderChanges: prefix + '_leader_changes_total', lag: prefix + '_follower_lag_entries' };
}
async function raftClusters(start, end) {
  const series = await api('/api/v1/series?match[]=' + encodeURIComponent('{__name__=~".+_raft_term"}') + '&start=' + start + '&end=' + end);
  const byJob = new Map();
  for (const s of series) {
    const prefix = s.__name__.slice(0, -'_raft_term'.length);
    const c = byJob.get(s.job) || { job: s.job, prefix, instances: new Set() };
    c.instances.add(s.instance);
    byJob.set(s.job, c);
  }
  return [...byJob.values()].sort((a, b) => (a.job < b.job ? -1 : 1));
}
async function instant(query) { return (await api('/api/v1/query?query=' + encodeURIComponent(query))).result; }
`;
