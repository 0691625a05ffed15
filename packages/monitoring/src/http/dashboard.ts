// The dashboard at /: one HTML page, no build step. It reads the same API a Grafana would
// (/api/v1/targets, /api/v1/alerts, /api/v1/failure-detector, /api/v1/query_range) every few
// seconds and draws targets (green up, red down), alerts, φ per target, clocks, the newest traces
// with a waterfall of one (?trace=ID or a click; else the newest), and a few graphs as SVG.
import type { ServiceApp } from '@ddia/common';

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>DDIA Lab monitoring</title>
<style>
  body { font: 14px system-ui, sans-serif; margin: 1.5rem; color: #222; background: #fafafa; }
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
</style>
</head>
<body>
<h1>DDIA Lab monitoring <small id="now"></small></h1>
<div id="error"></div>
<h2>Targets</h2>
<table id="targets"><thead><tr><th>job</th><th>instance</th><th>health</th><th>last scrape</th><th>duration</th><th>error</th></tr></thead><tbody></tbody></table>
<h2>Failure detector (φ accrual vs fixed timeout)</h2>
<table id="phi"><thead><tr><th>instance</th><th>φ</th><th>φ suspects</th><th>fixed timeout suspects</th><th>heartbeats</th><th>mean interval</th></tr></thead><tbody></tbody></table>
<h2>Clocks (offset from ours, NTP-style from scrape answers)</h2>
<table id="clocks"><thead><tr><th>instance</th><th>offset</th><th>± error</th><th>round trip</th><th>probes</th></tr></thead><tbody></tbody></table>
<h2>Alerts</h2>
<table id="alerts"><thead><tr><th>alert</th><th>labels</th><th>state</th><th>active since</th><th>value</th></tr></thead><tbody></tbody></table>
<h2>Traces (newest; click one for its waterfall)</h2>
<table id="traces"><thead><tr><th>trace</th><th>root</th><th>services</th><th>spans</th><th>duration</th><th>error</th></tr></thead><tbody></tbody></table>
<h3 id="waterfall-title"></h3>
<div id="waterfall"></div>
<h2>Graphs (last 15 minutes)</h2>
<div class="charts" id="charts"></div>
<script>
const GRAPHS = ['up', 'scrape_duration_seconds', 'monitoring_phi', 'sum by (job) (rate(http_request_duration_seconds_count[1m]))'];
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
async function api(path) {
  const r = await fetch(path);
  const body = await r.json();
  if (body.status !== 'success') throw new Error(body.error || r.statusText);
  return body.data;
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
// The waterfall: one row per span in start order, indented by depth in the parent chain,
// a bar from its start to its end on the trace's time axis (server blue, client purple, red on error).
let selectedTrace = new URLSearchParams(location.search).get('trace');
async function waterfall(traceId) {
  const data = await api('/api/v1/traces/' + encodeURIComponent(traceId));
  const spans = data.spans;
  const t0 = Math.min(...spans.map((s) => s.startMs));
  const total = Math.max(1e-3, Math.max(...spans.map((s) => s.endMs)) - t0);
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const depth = (s) => { let d = 0; let p = s; const seen = new Set(); while (p && p.parentSpanId && byId.has(p.parentSpanId) && !seen.has(p.spanId)) { seen.add(p.spanId); p = byId.get(p.parentSpanId); d++; } return d; };
  document.getElementById('waterfall-title').textContent = 'Trace ' + traceId + ' — ' + total.toFixed(2) + ' ms, ' + spans.length + ' spans';
  document.getElementById('waterfall').innerHTML = spans.map((s) => {
    const left = ((s.startMs - t0) / total) * 100, width = (s.durationMs / total) * 100;
    const cls = 'bar' + (s.kind === 3 ? ' client' : '') + (s.error ? ' error' : '');
    const title = s.service + ' ' + s.name + ': ' + s.durationMs.toFixed(2) + ' ms' + (s.attributes['http.route'] ? ' route ' + s.attributes['http.route'] : '') + (s.attributes['server.address'] ? ' peer ' + s.attributes['server.address'] + ':' + s.attributes['server.port'] : '');
    return '<div class="wf-row" data-span-id="' + esc(s.spanId) + '"><div class="wf-name" style="padding-left:' + depth(s) * 14 + 'px">' + esc(s.service + ' ' + s.name) + '</div><div class="wf-lane"><div class="' + cls + '" style="left:' + left.toFixed(3) + '%;width:' + width.toFixed(3) + '%" title="' + esc(title) + '"></div></div></div>';
  }).join('');
}
async function refresh() {
  try {
    const now = Date.now() / 1000;
    document.getElementById('now').textContent = new Date().toISOString();
    const targets = await api('/api/v1/targets');
    rows('targets', targets.activeTargets.map((t) => '<tr class="' + esc(t.health) + '" data-instance="' + esc(t.labels.instance) + '"><td>' + esc(t.labels.job) + '</td><td>' + esc(t.labels.instance) + '</td><td>' + esc(t.health) + '</td><td>' + esc(t.lastScrape) + '</td><td>' + (t.lastScrapeDuration * 1000).toFixed(1) + ' ms</td><td>' + esc(t.lastError) + '</td></tr>'));
    const phi = await api('/api/v1/failure-detector');
    rows('phi', phi.map((p) => '<tr class="' + (p.suspect ? 'down' : 'up') + '"><td>' + esc(p.instance) + '</td><td>' + (p.phi === null ? '∞' : p.phi.toFixed(2)) + '</td><td>' + p.suspect + '</td><td>' + p.fixedTimeoutSuspect + '</td><td>' + p.heartbeats + '</td><td>' + p.meanIntervalMs.toFixed(0) + ' ms</td></tr>'));
    const clocks = await api('/api/v1/clocks');
    rows('clocks', clocks.map((c) => '<tr class="' + (c.offsetMs !== null && Math.abs(c.offsetMs) - c.errorMs > 1000 ? 'down' : 'up') + '" data-instance="' + esc(c.instance) + '"><td>' + esc(c.instance) + '</td><td>' + (c.offsetMs === null ? '?' : c.offsetMs.toFixed(0) + ' ms') + '</td><td>' + (c.errorMs === null ? '' : c.errorMs.toFixed(0) + ' ms') + '</td><td>' + (c.delayMs === null ? '' : c.delayMs.toFixed(1) + ' ms') + '</td><td>' + c.probes + '</td></tr>'));
    const alerts = await api('/api/v1/alerts');
    rows('alerts', alerts.alerts.map((a) => '<tr class="' + esc(a.state) + '"><td>' + esc(a.labels.alertname) + '</td><td>' + esc(labelText(a.labels)) + '</td><td>' + esc(a.state) + '</td><td>' + esc(a.activeAt) + '</td><td>' + esc(a.value) + '</td></tr>'));
    const traces = (await api('/api/v1/traces?limit=20')).traces;
    if (!selectedTrace && traces.length > 0) selectedTrace = traces[0].traceId;
    rows('traces', traces.map((t) => '<tr data-trace="' + esc(t.traceId) + '" class="' + (t.traceId === selectedTrace ? 'selected' : '') + '"><td>' + esc(t.traceId.slice(0, 12)) + '…</td><td>' + esc(t.rootService + ' ' + t.rootName) + '</td><td>' + esc(t.services.join(', ')) + '</td><td>' + t.spans + '</td><td>' + t.durationMs.toFixed(2) + ' ms</td><td>' + (t.error ? 'error' : '') + '</td></tr>'));
    if (selectedTrace) await waterfall(selectedTrace).catch(() => {});
    const start = now - 900;
    const html = [];
    for (const q of GRAPHS) {
      const data = await api('/api/v1/query_range?query=' + encodeURIComponent(q) + '&start=' + start + '&end=' + now + '&step=5');
      html.push(chart(q, data.result, start, now));
    }
    document.getElementById('charts').innerHTML = html.join('');
    document.getElementById('error').textContent = '';
  } catch (e) {
    document.getElementById('error').textContent = String(e);
  }
}
document.querySelector('#traces tbody').addEventListener('click', (e) => {
  const tr = e.target.closest('tr[data-trace]');
  if (tr) { selectedTrace = tr.dataset.trace; refresh(); }
});
// ?refresh=N redraws every N seconds (default 5; the browser test uses 0.5).
const REFRESH_S = Number(new URLSearchParams(location.search).get('refresh')) || 5;
refresh();
setInterval(refresh, Math.max(0.2, REFRESH_S) * 1000);
</script>
</body>
</html>
`;

export function registerDashboard(app: ServiceApp): void {
  app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(DASHBOARD_HTML));
}
