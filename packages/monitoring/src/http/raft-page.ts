// A page per Raft cluster at /raft/<job> (kv-store's `kv` in the lab): who leads, in which term,
// how far each node has committed and applied, how far the leader sees each follower behind, and
// over the window the elections (term rises), leader changes, indexes, lag and the requests the
// cluster served — all read from the metrics its nodes export (names: RAFT_HELPERS), through the
// query API. Chapter 8's troubles seen from the consensus side: a paused or partitioned leader
// shows as a term rise, a new leader and a follower falling behind.
import { PAGE_HELPERS, PAGE_STYLE, RAFT_HELPERS } from './page-parts.js';

export const RAFT_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Raft cluster — DDIA Lab monitoring</title>
<style>
${PAGE_STYLE}
  tr.leader td:nth-child(3) { font-weight: bold; }
  dl.summary { display: grid; grid-template-columns: max-content max-content; gap: .2rem 1rem; }
  dl.summary dt { color: #555; } dl.summary dd { margin: 0; font-weight: bold; }
</style>
</head>
<body>
<h1><a href="/">DDIA Lab monitoring</a> › Raft cluster <span id="job"></span> <small id="now"></small></h1>
<div id="error"></div>
<dl class="summary">
  <dt>leader</dt><dd id="leader">?</dd>
  <dt>term</dt><dd id="term">?</dd>
  <dt>elections in the window (term rises)</dt><dd id="elections">?</dd>
  <dt>leader changes in the window</dt><dd id="leader-changes">?</dd>
</dl>
<h2>Nodes</h2>
<table id="nodes"><thead><tr><th>instance</th><th>node</th><th>role</th><th>term</th><th>commit index</th><th>applied index</th><th>applied behind the highest commit</th><th>lag as the leader sees it</th><th>leader changes seen</th></tr></thead><tbody></tbody></table>
<h2>Over time (last <span id="window"></span>)</h2>
<div class="charts" id="charts"></div>
<script>
${PAGE_HELPERS}
${RAFT_HELPERS}
const PARAMS = new URLSearchParams(location.search);
const JOB = decodeURIComponent(location.pathname.split('/').pop());
// ?window=S and ?step=S (seconds) set the charts' range (default 15 minutes at 5 s steps);
// ?refresh=N redraws every N seconds (default 5). The browser test uses short ones.
const WINDOW_S = Number(PARAMS.get('window')) || 900;
const STEP_S = Number(PARAMS.get('step')) || 5;
const REFRESH_S = Number(PARAMS.get('refresh')) || 5;
const SEL = '{job=' + JSON.stringify(JOB) + '}';
document.getElementById('job').textContent = JOB;
document.getElementById('window').textContent = WINDOW_S >= 60 ? WINDOW_S / 60 + ' min' : WINDOW_S + ' s';
const byInstance = (result) => new Map(result.map((r) => [r.metric.instance, Number(r.value[1])]));
const cell = (v) => '<td>' + (v === undefined || Number.isNaN(v) ? '' : esc(v)) + '</td>';
// Leader changes over the window: at each step, the one node reporting itself leader (no node
// or two nodes — an election under way, a deposed leader not yet told — count as no leader).
function leaderChanges(series) {
  const at = new Map();
  for (const s of series) for (const [t, v] of s.values) if (Number(v) === 1) at.set(t, at.has(t) ? null : s.metric.instance);
  let last = null, changes = 0;
  for (const t of [...at.keys()].sort((a, b) => a - b)) {
    const who = at.get(t);
    if (who === null) continue;
    if (last !== null && who !== last) changes++;
    last = who;
  }
  return changes;
}
async function refresh() {
  try {
    const now = Date.now() / 1000;
    const start = now - WINDOW_S;
    document.getElementById('now').textContent = new Date().toISOString();
    const cluster = (await raftClusters(start, now)).find((c) => c.job === JOB);
    if (!cluster) throw new Error('no Raft metrics (<prefix>_raft_term) scraped from job ' + JOB);
    const m = raftMetrics(cluster.prefix);
    const [up, term, commit, applied, leader, seen, lag] = await Promise.all(
      ['up', m.term, m.commit, m.applied, m.leader, m.leaderChanges, m.lag].map((name) => instant(name + SEL)),
    );
    const upBy = byInstance(up), termBy = byInstance(term), commitBy = byInstance(commit), appliedBy = byInstance(applied);
    const leaderBy = byInstance(leader), seenBy = byInstance(seen);
    const range = (query) => api('/api/v1/query_range?query=' + encodeURIComponent(query) + '&start=' + start + '&end=' + now + '&step=' + STEP_S);
    const leaderSeries = (await range(m.leader + SEL)).result;
    // Node ids by instance; the window's series name a node that is down now too.
    const nodeOf = new Map([...leaderSeries, ...term, ...leader].filter((r) => r.metric.node).map((r) => [r.metric.instance, r.metric.node]));
    // The leader: a live node saying so; if two do (a deposed one not yet told), the higher term.
    const leaders = [...leaderBy].filter(([i, v]) => v === 1 && upBy.get(i) === 1).map(([i]) => i);
    leaders.sort((a, b) => (termBy.get(b) ?? 0) - (termBy.get(a) ?? 0));
    const current = leaders[0];
    const lagBy = new Map(lag.filter((r) => r.metric.instance === current).map((r) => [r.metric.follower, Number(r.value[1])]));
    const highestCommit = Math.max(...[...commitBy].filter(([i]) => upBy.get(i) === 1).map(([, v]) => v));
    const instances = [...new Set([...upBy.keys(), ...cluster.instances])].sort();
    rows('nodes', instances.map((i) => {
      const live = upBy.get(i) === 1;
      const role = !live ? 'down' : i === current ? 'leader' : leaderBy.get(i) === 1 ? 'deposed leader' : 'follower';
      const node = nodeOf.get(i);
      const behind = live && appliedBy.has(i) && Number.isFinite(highestCommit) ? highestCommit - appliedBy.get(i) : undefined;
      const cls = (live ? 'up' : 'down') + (i === current ? ' leader' : '');
      return '<tr class="' + cls + '" data-instance="' + esc(i) + '" data-node="' + esc(node ?? '') + '"><td>' + esc(i) + '</td>' + cell(node) + '<td>' + role + '</td>' +
        cell(live ? termBy.get(i) : undefined) + cell(live ? commitBy.get(i) : undefined) + cell(live ? appliedBy.get(i) : undefined) +
        cell(behind) + cell(node !== undefined && i !== current ? lagBy.get(node) : undefined) + cell(live ? seenBy.get(i) : undefined) + '</tr>';
    }));
    document.getElementById('leader').textContent = current ? (nodeOf.get(current) ?? '') + ' (' + current + ')' : 'none';
    document.getElementById('term').textContent = termBy.size ? String(Math.max(...termBy.values())) : '?';

    const maxTerm = (await range('max(' + m.term + SEL + ')')).result;
    const termValues = (maxTerm[0]?.values ?? []).map(([, v]) => Number(v)).filter(Number.isFinite);
    document.getElementById('elections').textContent = termValues.length ? String(termValues[termValues.length - 1] - termValues[0]) : '?';
    document.getElementById('leader-changes').textContent = String(leaderChanges(leaderSeries));
    const rate = '[' + Math.max(60, 4 * STEP_S) + 's]';
    const graphs = [
      ['term (max over nodes; each election raises it)', maxTerm],
      ['leader (1 = this node leads)', leaderSeries],
      ['elections per window (term changes, max over nodes)', 'max(changes(' + m.term + SEL + rate + '))'],
      ['leader changes seen per window, per node', 'increase(' + m.leaderChanges + SEL + rate + ')'],
      ['commit index', m.commit + SEL],
      ['applied index', m.applied + SEL],
      ['replication lag, entries (leader’s view, per follower)', m.lag + SEL],
      ['requests/s', 'sum by (instance) (rate(http_request_duration_seconds_count' + SEL + rate + '))'],
      ['errors/s (5xx)', 'sum by (instance) (rate(http_request_duration_seconds_count{job=' + JSON.stringify(JOB) + ',status_code=~"5.."}' + rate + '))'],
      ['p99 latency, s', 'histogram_quantile(0.99, sum by (instance, le) (rate(http_request_duration_seconds_bucket' + SEL + rate + ')))'],
    ];
    const html = [];
    for (const [title, q] of graphs) html.push(chart(title, typeof q === 'string' ? (await range(q)).result : q, start, now));
    document.getElementById('charts').innerHTML = html.join('');
    document.getElementById('error').textContent = '';
  } catch (e) {
    document.getElementById('error').textContent = String(e);
  }
}
redrawEvery(refresh, REFRESH_S);
</script>
</body>
</html>
`;
