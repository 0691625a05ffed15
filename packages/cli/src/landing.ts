// The lab's landing page: every service and node with live health, and links to each
// node's API docs and metrics. It is itself a service built with createService.
import { createService, type Service } from '@ddia/common';
import { health } from './processes.js';
import { LANDING_PORT, TOPOLOGY } from './topology.js';

export interface LandingNode {
  name: string;
  service: string;
  url: string;
}

const HEALTH_PATHS = ['/health', '/ready'] as const;

async function statusOf(nodes: LandingNode[]) {
  return Promise.all(
    nodes.map(async (node) => {
      const [alive, ready] = await Promise.all(HEALTH_PATHS.map((p) => health(node.url, p)));
      return { ...node, health: alive, ready: ready === 'up' };
    }),
  );
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(rows: Awaited<ReturnType<typeof statusOf>>): string {
  const sections = TOPOLOGY.map((def) => {
    const mine = rows.filter((r) => r.service === def.name);
    if (mine.length === 0) return '';
    const lines = mine
      .map((r) => {
        const badge = r.health === 'up' ? (r.ready ? 'ready' : 'up, not ready') : 'down';
        const u = escapeHtml(r.url);
        return `<tr><td>${escapeHtml(r.name)}</td><td><a href="${u}/health">${u}</a></td><td class="${r.health === 'up' ? 'ok' : 'bad'}">${badge}</td><td><a href="${u}/docs">docs</a> · <a href="${u}/metrics">metrics</a> · <a href="${u}/openapi.json">openapi</a></td></tr>`;
      })
      .join('\n');
    return `<h2>${escapeHtml(def.chapter)} — ${escapeHtml(def.title)} <small>(${escapeHtml(def.name)})</small></h2>
<table><tr><th>node</th><th>url</th><th>health</th><th>links</th></tr>${lines}</table>`;
  }).join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>DDIA Lab</title>
<meta http-equiv="refresh" content="5">
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left}
.ok{color:#070}.bad{color:#b00}small{color:#666;font-weight:normal}</style></head>
<body><h1>DDIA Lab</h1><p>One small, real data system per chapter of <em>Designing Data-Intensive Applications</em>.
Health refreshes every 5 s. JSON: <a href="/api/status">/api/status</a>.</p>
${sections || '<p>No services running.</p>'}</body></html>`;
}

export async function startLanding(
  nodes: LandingNode[],
  port = LANDING_PORT,
  host = '127.0.0.1',
): Promise<Service> {
  const service = await createService({
    name: 'lab',
    description: 'The DDIA Lab landing page',
    config: { host, port, id: 'lab', logLevel: 'warn' },
    handleSignals: false,
  });
  service.app.get('/api/status', async () => ({ nodes: await statusOf(nodes) }));
  service.app.get('/', async (_request, reply) =>
    reply.type('text/html; charset=utf-8').send(page(await statusOf(nodes))),
  );
  await service.listen();
  return service;
}
