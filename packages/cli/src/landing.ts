// The lab's landing page: for every service of the topology its chapter, quick facts, a link to
// its study guide, and its nodes with live health; for a Raft cluster also the leader and the
// term, read from each node's GET /cluster. It is itself a service built with createService.
import { CommonErrors, createService, DdiaError, type Service } from '@ddia/common';
import { escapeHtml, guidePage, guideSource, guidesIndexPage, listGuides } from './guides.js';
import { health, healthClient } from './processes.js';
import { LANDING_PORT, type ServiceDef, TOPOLOGY } from './topology.js';

export interface LandingNode {
  name: string;
  /** The topology service it belongs to (`kv`). */
  service: string;
  url: string;
  /** The local process, when the lab runs as processes (not in containers). */
  pid?: number;
}

/** The nodes to show, asked again on every request (`pnpm start` reads the lab's state.json). */
export type LandingNodes = () => LandingNode[];

const HEALTH_PATHS = ['/health', '/ready'] as const;

export interface NodeStatus extends LandingNode {
  health: 'up' | 'not ready' | 'down';
  ready: boolean;
  /** The node's Raft role, when its service has a leaderPath and some node answered. */
  role: string | null;
}

export interface ClusterStatus {
  service: string;
  /** The leader's node name (`kv-n2`), or null while none is known. */
  leader: string | null;
  term: number | null;
  /** The node whose answer this is. */
  source: string | null;
}

interface ClusterAnswer {
  leader?: unknown;
  term?: unknown;
  members?: { id?: unknown; role?: unknown }[];
}

/** Every node's view of the cluster; the newest term with a known leader wins (Raft §5.1). */
async function clusterOf(def: ServiceDef, nodes: LandingNode[]) {
  const answers = await Promise.all(
    nodes.map(async (node) => {
      try {
        const res = await healthClient.request(`${node.url}${def.leaderPath}`);
        if (res.status !== 200) return null;
        return { node, answer: res.json<ClusterAnswer>() };
      } catch {
        return null;
      }
    }),
  );
  let best: { node: LandingNode; answer: ClusterAnswer } | null = null;
  for (const a of answers) {
    if (!a || typeof a.answer.term !== 'number') continue;
    const better =
      !best ||
      (a.answer.term as number) > (best.answer.term as number) ||
      (a.answer.term === best.answer.term && !best.answer.leader && a.answer.leader);
    if (better) best = a;
  }
  const leaderId = typeof best?.answer.leader === 'string' ? best.answer.leader : null;
  const roles = new Map<string, string>();
  for (const m of best?.answer.members ?? [])
    if (typeof m.id === 'string' && typeof m.role === 'string') roles.set(`${def.name}-${m.id}`, m.role);
  const cluster: ClusterStatus = {
    service: def.name,
    leader: leaderId === null ? null : `${def.name}-${leaderId}`,
    term: typeof best?.answer.term === 'number' ? best.answer.term : null,
    source: best?.node.name ?? null,
  };
  return { cluster, roles };
}

export async function statusOf(
  nodes: LandingNode[],
): Promise<{ nodes: NodeStatus[]; clusters: ClusterStatus[] }> {
  const clusters: ClusterStatus[] = [];
  const roles = new Map<string, string>();
  const [rows] = await Promise.all([
    Promise.all(
      nodes.map(async (node) => {
        const [alive, ready] = await Promise.all(HEALTH_PATHS.map((p) => health(node.url, p)));
        return { ...node, health: alive ?? 'down', ready: ready === 'up' };
      }),
    ),
    Promise.all(
      TOPOLOGY.filter((def) => def.leaderPath).map(async (def) => {
        const mine = nodes.filter((n) => n.service === def.name);
        if (mine.length === 0) return;
        const view = await clusterOf(def, mine);
        clusters.push(view.cluster);
        for (const [name, role] of view.roles) roles.set(name, role);
      }),
    ),
  ]);
  return { nodes: rows.map((r) => ({ ...r, role: roles.get(r.name) ?? null })), clusters };
}

function serviceSection(
  def: ServiceDef,
  rows: NodeStatus[],
  clusters: ClusterStatus[],
  guides: Set<string>,
): string {
  const mine = rows.filter((r) => r.service === def.name);
  if (mine.length === 0) return '';
  const id = escapeHtml(def.name);
  const lines = mine
    .map((r) => {
      const badge = r.health === 'up' ? (r.ready ? 'ready' : 'up, not ready') : 'down';
      const u = escapeHtml(r.url);
      const ui = def.uiPath ? `<a class="ui" href="${u}${escapeHtml(def.uiPath)}">dashboard</a> · ` : '';
      const role = r.role
        ? `<td class="role">${escapeHtml(r.role)}</td>`
        : def.leaderPath
          ? '<td>?</td>'
          : '';
      return `<tr data-node="${escapeHtml(r.name)}"><td>${escapeHtml(r.name)}</td><td><a href="${u}/health">${u}</a></td>${role}<td class="${r.health === 'up' ? 'ok' : 'bad'}">${badge}</td><td>${ui}<a href="${u}/docs">docs</a> · <a href="${u}/metrics">metrics</a> · <a href="${u}/openapi.json">openapi</a></td></tr>`;
    })
    .join('\n');
  const cluster = clusters.find((c) => c.service === def.name);
  const leader = def.leaderPath
    ? cluster?.leader
      ? `<p class="leader" data-leader="${escapeHtml(cluster.leader)}" data-term="${cluster.term}">Leader: <strong>${escapeHtml(cluster.leader)}</strong> · term <strong>${cluster.term}</strong></p>`
      : `<p class="leader bad" data-leader="">No leader known${cluster?.term != null ? ` (term ${cluster.term})` : ''}: an election is under way or a majority is down.</p>`
    : '';
  const guide = guides.has(def.pkg)
    ? `<p>Study guide: <a class="guide" href="/guides/${escapeHtml(def.pkg)}/">packages/${escapeHtml(def.pkg)}/README.md</a></p>`
    : '';
  const facts = (def.facts ?? []).map((f) => `<li>${escapeHtml(f)}</li>`).join('');
  return `<section id="svc-${id}"><h2>${escapeHtml(def.chapter)} — ${escapeHtml(def.title)} <small>(${id}, ${mine.length} node${mine.length > 1 ? 's' : ''})</small></h2>
${guide}${facts ? `<ul class="facts">${facts}</ul>` : ''}${leader}
<table><tr><th>node</th><th>url</th>${def.leaderPath ? '<th>role</th>' : ''}<th>health</th><th>links</th></tr>${lines}</table></section>`;
}

function page(status: Awaited<ReturnType<typeof statusOf>>): string {
  const guides = listGuides();
  const names = new Set(guides.map((g) => g.pkg));
  const sections = TOPOLOGY.map((def) => serviceSection(def, status.nodes, status.clusters, names)).join(
    '\n',
  );
  const shown = new Set(
    TOPOLOGY.filter((def) => status.nodes.some((n) => n.service === def.name)).map((d) => d.pkg),
  );
  const others = guides
    .filter((g) => !shown.has(g.pkg))
    .map((g) => `<li><a class="guide" href="/guides/${escapeHtml(g.pkg)}/">${escapeHtml(g.title)}</a></li>`)
    .join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>DDIA Lab</title>
<meta http-equiv="refresh" content="5">
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left}
.ok{color:#070}.bad{color:#b00}small{color:#666;font-weight:normal}.leader{font-size:1.1rem}</style></head>
<body><h1>DDIA Lab</h1><p>One small, real data system per chapter of <em>Designing Data-Intensive Applications</em>.
Refreshes every 5 s. JSON: <a href="/api/status">/api/status</a>. All <a href="/guides/">study guides</a>.</p>
${sections || '<p>No services running.</p>'}
${others ? `<h2>More study guides</h2><ul>${others}</ul>` : ''}</body></html>`;
}

function notFound(what: string): DdiaError {
  return new DdiaError(CommonErrors.notFound, `no study guide ${what}`);
}

export async function startLanding(
  nodes: LandingNodes,
  port = LANDING_PORT,
  host = '127.0.0.1',
): Promise<Service> {
  const service = await createService({
    name: 'lab',
    description: 'The DDIA Lab landing page',
    config: { host, port, id: 'lab', logLevel: 'warn' },
    handleSignals: false,
  });
  const html = 'text/html; charset=utf-8';
  service.app.get('/api/status', async () => statusOf(nodes()));
  service.app.get('/', async (_request, reply) => reply.type(html).send(page(await statusOf(nodes()))));
  service.app.get('/guides/', async (_request, reply) =>
    reply.type(html).send(guidesIndexPage(listGuides())),
  );
  service.app.get<{ Params: { pkg: string } }>('/guides/:pkg', async (request, reply) => {
    if (guideSource(request.params.pkg) === undefined) throw notFound(request.params.pkg);
    // Served under a trailing slash, so a README's relative links (FORMAT.md, ../raft) resolve.
    return reply.redirect(`/guides/${encodeURIComponent(request.params.pkg)}/`);
  });
  const guideHtml = (pkg: string, file: string): string => {
    const source = guideSource(pkg, file);
    if (source === undefined) throw notFound(`${pkg}/${file}`);
    return guidePage(pkg, file, source);
  };
  service.app.get<{ Params: { pkg: string } }>('/guides/:pkg/', async (request, reply) =>
    reply.type(html).send(guideHtml(request.params.pkg, 'README.md')),
  );
  service.app.get<{ Params: { pkg: string; file: string } }>('/guides/:pkg/:file', async (request, reply) =>
    reply.type(html).send(guideHtml(request.params.pkg, request.params.file)),
  );
  await service.listen();
  return service;
}
