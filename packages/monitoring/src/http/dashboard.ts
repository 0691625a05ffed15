// The dashboard at /: one HTML page, no build step. It reads the same API a Grafana would
// (/api/v1/targets, /api/v1/alerts, /api/v1/failure-detector, /api/v1/query_range) every few
// seconds and draws targets (green up, red down), the lab's Raft clusters (links to a page per
// cluster, src/http/raft-page.ts), alerts, φ per target, clocks, the newest traces with a
// waterfall of one (?trace=ID or a click; else the newest), and a few graphs as SVG.
import type { ServiceApp } from '@ddia/common';
import { PAGE_HELPERS, PAGE_STYLE, RAFT_HELPERS } from './page-parts.js';
import { RAFT_PAGE_HTML } from './raft-page.js';

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>DDIA Lab monitoring</title>
<style>
${PAGE_STYLE}</style>
</head>
<body>
<h1>DDIA Lab monitoring <small id="now"></small></h1>
<div id="error"></div>
<h2>Targets</h2>
<table id="targets"><thead><tr><th>job</th><th>instance</th><th>health</th><th>last scrape</th><th>duration</th><th>error</th></tr></thead><tbody></tbody></table>
<h2>Raft clusters (a page each)</h2>
<table id="clusters"><thead><tr><th>cluster (job)</th><th>nodes</th><th>leader</th><th>term</th></tr></thead><tbody></tbody></table>
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
${PAGE_HELPERS}
${RAFT_HELPERS}
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
    const clusters = await raftClusters(now - 900, now);
    const clusterRows = [];
    for (const c of clusters) {
      const m = raftMetrics(c.prefix);
      const sel = '{job=' + JSON.stringify(c.job) + '}';
      const leader = (await instant(m.leader + sel + ' == 1')).map((r) => r.metric.node || r.metric.instance);
      const term = await instant('max(' + m.term + sel + ')');
      clusterRows.push('<tr data-job="' + esc(c.job) + '"><td><a href="/raft/' + encodeURIComponent(c.job) + '">' + esc(c.job) + '</a></td><td>' + c.instances.size + '</td><td>' + esc(leader.join(', ') || 'none') + '</td><td>' + esc(term[0] ? term[0].value[1] : '') + '</td></tr>');
    }
    rows('clusters', clusterRows);
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
redrawEvery(refresh, REFRESH_S);
</script>
</body>
</html>
`;

export function registerDashboard(app: ServiceApp): void {
  app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(DASHBOARD_HTML));
  // The job name is read by the page itself (from its path) and only ever sent back as a label value.
  app.get('/raft/:job', async (_request, reply) =>
    reply.type('text/html; charset=utf-8').send(RAFT_PAGE_HTML),
  );
}
