// The kv node's HTTP surface: hooks every response shares (who leads, latency metrics) and
// the route plugins — the client API (http/kv-routes.ts), the cluster and admin API
// (http/cluster-routes.ts), and forwarding to the leader (http/forwarding.ts). The state
// machine is in store/, leader routing in cluster/.
import type {} from '@fastify/swagger';
import { LeaderView } from './cluster/leader-view.js';
import { clusterRoutes } from './http/cluster-routes.js';
import type { KvRouteContext, KvServerOptions } from './http/context.js';
import { kvRoutes } from './http/kv-routes.js';

export { ADMIN_TIMEOUT_MS, MEMBER_STATUS_TIMEOUT_MS } from './http/cluster-routes.js';
export type { KvServerOptions } from './http/context.js';
export { DEADLINE_HEADER, FORWARDED_HEADER } from './http/forwarding.js';
export { RANGE_LIMIT_DEFAULT } from './http/kv-routes.js';

export function registerKvRoutes(options: KvServerOptions): void {
  const { service, metrics } = options;
  const app = service.app;
  const node = () => options.node();
  const view = new LeaderView(node);
  const ctx: KvRouteContext = { options, node, view, urlOf: (id) => options.peerUrls.get(id) };

  // Every response says who leads in which term, from a cached view (leader-view.ts): building
  // Raft's full status per response cost more than the headers are worth.
  app.addHook('onSend', async (_request, reply, payload) => {
    const current = view.current();
    if (current) {
      if (!reply.hasHeader('x-raft-term')) reply.header('x-raft-term', String(current.term));
      if (!reply.hasHeader('x-raft-leader')) reply.header('x-raft-leader', current.leaderId ?? '');
    }
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url;
    if (!route || !(route.startsWith('/kv') || route.startsWith('/cluster') || route.startsWith('/admin')))
      return;
    const consistency =
      (request.query as { consistency?: string } | undefined)?.consistency ?? 'linearizable';
    metrics.latency.observe(
      {
        route,
        method: request.method,
        consistency: request.method === 'GET' ? consistency : 'write',
        status_code: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
  });

  app.register(kvRoutes, ctx);
  app.register(clusterRoutes, ctx);
}
