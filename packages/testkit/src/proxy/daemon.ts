// The proxy daemon behind `ddia latency|partition|heal`: one process that hosts every link proxy
// of a local cluster and takes fault commands over a small HTTP control API on 127.0.0.1.
// Configuration (JSON, see README "Proxy daemon"):
//   { "controlPort": 7400,
//     "nodes": [{ "id": "n1", "port": 7001 }, ...],            real ports the nodes listen on
//     "links": [{ "from": "n1", "to": "n2", "port": 7512 },      n1 reaches n2 at 127.0.0.1:7512
//               { "from": "client", "to": "n1", "port": 7601 }, ...] }
import { CommonErrors, createService, DdiaError, type Service } from '@ddia/common';
import { Type } from 'typebox';
import { ProxyFaultError } from './faults.js';
import { CLIENT, type LinkSpec, ProxyNetwork } from './network.js';

export const CONTROL_BODY_BYTES_MAX = 64 * 1024;

export interface DaemonConfig {
  /** 0 picks a free port. */
  controlPort: number;
  /** Address for the control API and the proxies; loopback unless you mean otherwise. */
  host?: string;
  nodes: Array<{ id: string; port: number; host?: string }>;
  links: Array<{ from: string; to: string; port: number }>;
}

export class DaemonConfigError extends Error {
  override name = 'DaemonConfigError';
}

export interface ProxyDaemon {
  /** e.g. http://127.0.0.1:7400 */
  controlUrl: string;
  network: ProxyNetwork;
  close(): Promise<void>;
}

/** Checks a parsed config and names the first thing wrong with it. */
export function validateDaemonConfig(value: unknown): DaemonConfig {
  const fail = (msg: string): never => {
    throw new DaemonConfigError(msg);
  };
  if (typeof value !== 'object' || value === null) fail('config must be a JSON object');
  const config = value as Record<string, unknown>;
  const isPort = (p: unknown) => Number.isInteger(p) && (p as number) >= 0 && (p as number) <= 65535;
  if (!isPort(config.controlPort)) fail('controlPort must be a port number (0..65535)');
  if (!Array.isArray(config.nodes) || config.nodes.length === 0) fail('nodes must be a non-empty array');
  if (!Array.isArray(config.links)) fail('links must be an array');
  const ids = new Set<string>();
  (config.nodes as unknown[]).forEach((n, i) => {
    const node = n as Record<string, unknown>;
    if (typeof node?.id !== 'string' || node.id === '' || node.id === CLIENT)
      fail(`nodes[${i}].id must be a non-empty string other than '${CLIENT}'`);
    if (ids.has(node.id as string)) fail(`nodes[${i}].id '${node.id}' appears twice`);
    if (!isPort(node.port) || node.port === 0) fail(`nodes[${i}].port must be a port number`);
    ids.add(node.id as string);
  });
  (config.links as unknown[]).forEach((l, i) => {
    const link = l as Record<string, unknown>;
    if (typeof link?.from !== 'string' || (link.from !== CLIENT && !ids.has(link.from)))
      fail(`links[${i}].from must be a node id or '${CLIENT}'`);
    if (typeof link.to !== 'string' || !ids.has(link.to)) fail(`links[${i}].to must be a node id`);
    if (!isPort(link.port)) fail(`links[${i}].port must be a port number`);
  });
  return config as unknown as DaemonConfig;
}

export async function startProxyDaemon(input: DaemonConfig): Promise<ProxyDaemon> {
  const config = validateDaemonConfig(input);
  const host = config.host ?? '127.0.0.1';
  const nodeById = new Map(config.nodes.map((n) => [n.id, n]));
  const links: LinkSpec[] = config.links.map((l) => ({
    from: l.from,
    to: l.to,
    listenPort: l.port,
    targetPort: nodeById.get(l.to)!.port,
    targetHost: nodeById.get(l.to)!.host ?? '127.0.0.1',
  }));
  const network = await ProxyNetwork.start({ links, listenHost: host });
  let service: Service;
  try {
    service = await createService({
      name: 'fault-proxy',
      description: 'Userspace fault proxy: latency, loss, partitions, blackholes and bandwidth caps per link',
      config: { host, port: config.controlPort, id: 'proxy', logLevel: 'warn' },
      bodyLimitBytes: CONTROL_BODY_BYTES_MAX,
      handleSignals: false,
      onClose: () => network.close(),
    });
    registerControlRoutes(service, network);
    await service.listen();
  } catch (err) {
    await network.close();
    throw err;
  }
  return { controlUrl: service.url(), network, close: () => service.close() };
}

const Id = Type.String({ minLength: 1, maxLength: 64 });
const Link = { from: Id, to: Id };

/** Runs a fault change, answering a fault the network refuses as 400 problem+json. */
function apply<T>(change: () => T): T {
  try {
    return change();
  } catch (err) {
    if (err instanceof ProxyFaultError) throw new DdiaError(CommonErrors.badRequest, err.message);
    throw err;
  }
}

function registerControlRoutes(service: Service, network: ProxyNetwork): void {
  const { app } = service;
  app.get('/links', async () => ({ nodes: network.nodes(), links: network.status() }));
  app.post(
    '/latency',
    {
      schema: {
        body: Type.Object({
          ...Link,
          ms: Type.Number({ minimum: 0 }),
          jitterMs: Type.Optional(Type.Number({ minimum: 0 })),
        }),
      },
    },
    async ({ body }) => {
      apply(() => network.latency(body.from, body.to, body.ms, body.jitterMs ?? 0));
      return { from: body.from, to: body.to, latencyMs: body.ms, jitterMs: body.jitterMs ?? 0 };
    },
  );
  app.post(
    '/bandwidth',
    {
      schema: {
        body: Type.Object({
          ...Link,
          bytesPerSec: Type.Union([Type.Number({ exclusiveMinimum: 0 }), Type.Null()]),
        }),
      },
    },
    async ({ body }) => {
      apply(() => network.bandwidth(body.from, body.to, body.bytesPerSec));
      return { from: body.from, to: body.to, bytesPerSecMax: body.bytesPerSec };
    },
  );
  app.post(
    '/loss',
    { schema: { body: Type.Object({ ...Link, pct: Type.Number({ minimum: 0 }) }) } },
    async ({ body }) => {
      apply(() => network.loss(body.from, body.to, body.pct));
      return { from: body.from, to: body.to, lossPct: body.pct };
    },
  );
  app.post(
    '/partition',
    { schema: { body: Type.Object({ groups: Type.Array(Type.Array(Id), { minItems: 1 }) }) } },
    async ({ body }) => ({ cuts: apply(() => network.partition(body.groups)) }),
  );
  app.post('/heal', async () => {
    network.heal();
    return { healed: true };
  });
  app.post('/clear', async () => {
    network.clear();
    return { cleared: true };
  });
  app.post('/blackhole', { schema: { body: Type.Object(Link) } }, async ({ body }) => {
    apply(() => network.blackhole(body.from, body.to));
    return { from: body.from, to: body.to, mode: 'blackhole' };
  });
  app.post('/reset', { schema: { body: Type.Object(Link) } }, async ({ body }) => ({
    reset: apply(() => network.resetConnections(body.from, body.to)),
  }));
}
