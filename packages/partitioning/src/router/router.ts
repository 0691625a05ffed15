// The routing tier (DDIA ch. 6 "Request Routing", the second option, as MongoDB's mongos): a
// stateless process that clients talk to. It holds no data and no vote; it caches the
// configuration it reads from the data nodes (GET /cluster/config) and sends each key's request
// straight to the owner (PartitionedClient), refreshing on a wrong-owner answer and on a timer.
// Requests that are not about one key (scans, index queries, counters, admin) go to any live
// node, which plans them itself. Any number of routers can run; killing one loses nothing.
//   node packages/partitioning/dist/main.js --router --port 7700 --seeds http://127.0.0.1:7701,...
import {
  type Config,
  ConfigError,
  createService,
  DdiaError,
  type FlagSpec,
  HttpClient,
  type HttpResponse,
  type Service,
  sizeLimitFlags,
  withRawBodies,
} from '@ddia/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Counter } from 'prom-client';
import { PartErrors } from '../errors.js';
import { KEY_BYTES_MAX_DEFAULT, parseClientKey, VALUE_BYTES_MAX_DEFAULT } from '../http/request-parts.js';
import { PartitionedClient } from './partitioned-client.js';

export const ROUTER_FLAGS = {
  router: { type: 'boolean', description: 'run as a stateless routing tier (no data)', default: true },
  seeds: {
    type: 'string',
    description: 'data node URLs to learn the assignment from, comma-separated',
    default: '',
  },
  'refresh-ms': {
    type: 'number',
    description: 'how often the router re-reads the assignment even without a wrong-owner answer',
    default: 1_000,
    min: 50,
    max: 600_000,
  },
  'request-timeout-ms': {
    type: 'number',
    description: 'how long a client request may wait for the owner (retries included) before 503',
    default: 5_000,
    min: 50,
    max: 600_000,
  },
  ...sizeLimitFlags({ keyBytesMax: KEY_BYTES_MAX_DEFAULT, valueBytesMax: VALUE_BYTES_MAX_DEFAULT }),
} as const satisfies Record<string, FlagSpec>;

export type RouterConfig = Config<typeof ROUTER_FLAGS>;

const RELAYED_HEADERS = ['content-type', 'etag', 'x-partition', 'x-epoch', 'x-owner'];
/** Paths a router passes to any live node (which plans or forwards them itself). */
const PASSED_THROUGH: [method: 'GET' | 'POST' | 'DELETE', path: string][] = [
  ['GET', '/kv'],
  ['GET', '/indexes'],
  ['GET', '/indexes/*'],
  ['POST', '/indexes'],
  ['GET', '/counters/*'],
  ['POST', '/counters/*'],
  ['GET', '/cluster'],
  ['GET', '/cluster/config'],
  ['GET', '/cluster/hot-keys'],
  ['POST', '/cluster/nodes'],
  ['DELETE', '/cluster/nodes/*'],
];

export interface Router {
  service: Service;
  client: PartitionedClient;
  url: string;
  close(): Promise<void>;
}

export function seedsOf(config: RouterConfig): string[] {
  const seeds = (config.extra.seeds ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (seeds.length === 0) throw new ConfigError('seeds', 'a router needs --seeds url,url,... (data nodes)');
  for (const seed of seeds) {
    if (!/^https?:\/\/[^\s/]+/.test(seed)) throw new ConfigError('seeds', `'${seed}' is not an http(s) URL`);
  }
  return seeds;
}

export async function startRouter(config: RouterConfig): Promise<Router> {
  const seeds = seedsOf(config);
  const timeoutMs = config.extra['request-timeout-ms'];
  const http = new HttpClient({ deadlineMs: timeoutMs, retries: 0 });
  const client = new PartitionedClient({
    seeds,
    name: `router:${config.id}`,
    deadlineMs: timeoutMs,
    client: http,
  });
  let timer: NodeJS.Timeout | undefined;
  const service = await createService({
    name: 'partitioning-router',
    description: 'Chapter 6: the routing tier of the partitioned store (stateless, like mongos)',
    config,
    bodyLimitBytes: Math.max(config.extra['value-bytes-max'], 64 * 1024),
    // Not ready until some node has answered with the assignment; asking again here means a
    // router started before its seeds becomes ready as soon as they are up.
    ready: async () =>
      client.config !== null ||
      (await client.refresh().then(
        () => true,
        () => false,
      )),
    onClose: async () => {
      if (timer) clearInterval(timer);
      await http.close();
    },
  });
  const routed = new Counter({
    name: 'partitioning_router_requests_total',
    help: 'Requests the router sent to an owner (key) or to any node (other), by outcome',
    labelNames: ['kind', 'status'] as const,
    registers: [service.registry],
  });
  new Counter({
    name: 'partitioning_router_config_refreshes_total',
    help: 'Times the router re-read the assignment (timer, wrong-owner answers, unreachable owners)',
    registers: [service.registry],
    collect() {
      this.reset();
      this.inc(client.stats.configRefreshes);
    },
  });
  new Counter({
    name: 'partitioning_router_wrong_owner_total',
    help: 'Wrong-owner (421) answers the router got and retried after a refresh',
    registers: [service.registry],
    collect() {
      this.reset();
      this.inc(client.stats.wrongOwnerAnswers);
    },
  });

  const relay = (reply: FastifyReply, response: HttpResponse): FastifyReply => {
    for (const name of RELAYED_HEADERS) {
      const value = response.headers[name];
      if (typeof value === 'string') reply.header(name, value);
    }
    return reply.header('x-routed-by', config.id).status(response.status).send(response.body);
  };
  const rawBody = (request: FastifyRequest): Buffer | undefined =>
    Buffer.isBuffer(request.body) ? request.body : undefined;
  const conditionHeaders = (request: FastifyRequest): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const name of ['content-type', 'if-match', 'if-none-match']) {
      const value = request.headers[name];
      if (typeof value === 'string') out[name] = value;
    }
    return out;
  };

  service.app.register(async (scope) => {
    withRawBodies(scope);
    for (const method of ['GET', 'PUT', 'DELETE'] as const) {
      scope.route({
        method,
        url: '/kv/*',
        bodyLimit: config.extra['value-bytes-max'],
        schema: { tags: ['kv'], summary: `${method} a key: sent straight to its partition's owner` },
        handler: async (request, reply) => {
          const key = parseClientKey(
            (request.params as { '*': string })['*'],
            (request.query as { sort?: unknown }).sort,
            config.extra['key-bytes-max'],
          );
          const body = rawBody(request);
          const response = await client.request({
            method,
            key,
            ...(method === 'PUT' ? { body: body ?? Buffer.alloc(0) } : {}),
            headers: conditionHeaders(request),
            trace: request.trace,
          });
          routed.inc({ kind: 'key', status: String(response.status) });
          return relay(reply, response);
        },
      });
    }
    for (const [method, url] of PASSED_THROUGH) {
      scope.route({
        method,
        url,
        schema: { tags: ['passed through'], summary: `${method} ${url}: sent to any live data node` },
        handler: async (request, reply) => {
          const response = await passThrough(request);
          routed.inc({ kind: 'other', status: String(response.status) });
          return relay(reply, response);
        },
      });
    }
  });

  /** Sends the request to a live node, trying the next one when a node cannot be reached. */
  async function passThrough(request: FastifyRequest): Promise<HttpResponse> {
    const known = client.config?.nodes.filter((n) => n.state === 'active').map((n) => n.url) ?? [];
    const urls = [...new Set([...known, ...seeds])];
    const start = Math.floor(Math.random() * urls.length);
    const body = rawBody(request);
    let lastError: unknown;
    for (let i = 0; i < urls.length; i++) {
      const url = urls[(start + i) % urls.length] as string;
      try {
        return await http.request(`${url}${request.url}`, {
          method: request.method as 'GET',
          headers: conditionHeaders(request),
          ...(body && body.length > 0 ? { body } : {}),
          deadlineMs: timeoutMs,
          retry: false,
          trace: request.trace,
        });
      } catch (error) {
        lastError = error;
        const refused = /ECONNREFUSED/.test(String((error as { cause?: { code?: string } }).cause?.code));
        // Only a refused connection is surely not applied; anything else ends the attempt.
        if (!refused && request.method !== 'GET') {
          throw new DdiaError(
            PartErrors.outcomeUnknown,
            `the node did not answer: ${(error as Error).message}`,
          );
        }
      }
    }
    throw new DdiaError(
      PartErrors.ownerUnreachable,
      `no data node answered: ${(lastError as Error)?.message}`,
    );
  }

  // The router's own view: what it has cached and how often it had to refresh.
  service.app.get(
    '/router',
    { schema: { tags: ['router'], summary: 'The cached assignment and routing counters' } },
    async () => {
      const cached = client.config;
      return {
        router: config.id,
        seeds,
        epoch: cached?.epoch ?? 0,
        scheme: cached?.scheme ?? null,
        nodes: cached?.nodes.map((n) => ({ id: n.id, url: n.url, state: n.state })) ?? [],
        partitions: cached?.partitions.length ?? 0,
        stats: client.stats,
      };
    },
  );

  const url = await service.listen();
  await client
    .refresh()
    .catch((error: unknown) => service.log.warn({ err: error }, 'no data node answered yet'));
  timer = setInterval(() => void client.refresh().catch(() => undefined), config.extra['refresh-ms']);
  timer.unref();
  return { service, client, url, close: () => service.close() };
}
