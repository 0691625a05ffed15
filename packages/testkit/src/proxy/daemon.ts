// The proxy daemon behind `ddia latency|partition|heal`: one process that hosts every link proxy
// of a local cluster and takes fault commands over a small HTTP control API on 127.0.0.1.
// Configuration (JSON, see README "Proxy daemon"):
//   { "controlPort": 7400,
//     "nodes": [{ "id": "n1", "port": 7001 }, ...],            real ports the nodes listen on
//     "links": [{ "from": "n1", "to": "n2", "port": 7512 },      n1 reaches n2 at 127.0.0.1:7512
//               { "from": "client", "to": "n1", "port": 7601 }, ...] }
import http from 'node:http';
import type { AddressInfo } from 'node:net';
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
  const server = http.createServer((req, res) => {
    handle(network, req, res).catch((err: unknown) => {
      if (!res.headersSent) problem(res, 500, 'Internal error', (err as Error).message);
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.controlPort, host, resolve);
    });
  } catch (err) {
    await network.close();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  return {
    controlUrl: `http://${host}:${port}`,
    network,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await network.close();
    },
  };
}

type Body = Record<string, unknown>;

async function handle(network: ProxyNetwork, req: http.IncomingMessage, res: http.ServerResponse) {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  const route = `${req.method} ${path}`;
  if (route === 'GET /health') return json(res, 200, { status: 'ok' });
  if (route === 'GET /links') return json(res, 200, { nodes: network.nodes(), links: network.status() });
  const actions: Record<string, (body: Body) => unknown> = {
    'POST /latency': (b) => {
      network.latency(
        str(b, 'from'),
        str(b, 'to'),
        num(b, 'ms'),
        b.jitterMs === undefined ? 0 : num(b, 'jitterMs'),
      );
      return { from: b.from, to: b.to, latencyMs: b.ms, jitterMs: b.jitterMs ?? 0 };
    },
    'POST /bandwidth': (b) => {
      const cap = b.bytesPerSec === null ? null : num(b, 'bytesPerSec');
      network.bandwidth(str(b, 'from'), str(b, 'to'), cap);
      return { from: b.from, to: b.to, bytesPerSecMax: cap };
    },
    'POST /partition': (b) => {
      const groups = b.groups;
      if (
        !Array.isArray(groups) ||
        !groups.every((g) => Array.isArray(g) && g.every((id) => typeof id === 'string'))
      )
        throw new ProxyFaultError('groups must be an array of arrays of node ids, e.g. [["n1","n2"],["n3"]]');
      return { cuts: network.partition(groups as string[][]) };
    },
    'POST /heal': () => {
      network.heal();
      return { healed: true };
    },
    'POST /clear': () => {
      network.clear();
      return { cleared: true };
    },
    'POST /blackhole': (b) => {
      network.blackhole(str(b, 'from'), str(b, 'to'));
      return { from: b.from, to: b.to, mode: 'blackhole' };
    },
    'POST /reset': (b) => ({ reset: network.resetConnections(str(b, 'from'), str(b, 'to')) }),
  };
  const action = actions[route];
  if (!action) {
    const known = ['GET /health', 'GET /links', ...Object.keys(actions)].join(', ');
    return problem(res, 404, 'No such route', `${route} is not one of: ${known}`);
  }
  let body: Body;
  try {
    body = await readJson(req);
  } catch (err) {
    return problem(res, 400, 'Bad request body', (err as Error).message);
  }
  try {
    return json(res, 200, action(body));
  } catch (err) {
    if (err instanceof ProxyFaultError) return problem(res, 400, 'Bad fault', err.message);
    throw err;
  }
}

function str(body: Body, name: string): string {
  if (typeof body[name] !== 'string') throw new ProxyFaultError(`'${name}' must be a string`);
  return body[name] as string;
}

function num(body: Body, name: string): number {
  if (typeof body[name] !== 'number') throw new ProxyFaultError(`'${name}' must be a number`);
  return body[name] as number;
}

async function readJson(req: http.IncomingMessage): Promise<Body> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > CONTROL_BODY_BYTES_MAX) throw new Error(`body over ${CONTROL_BODY_BYTES_MAX} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error('body must be a JSON object');
  return parsed as Body;
}

function json(res: http.ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
}

function problem(res: http.ServerResponse, status: number, title: string, detail: string): void {
  const code =
    status === 404
      ? 'DDIA_ERR_ROUTE_NOT_FOUND'
      : status === 400
        ? 'DDIA_ERR_BAD_REQUEST'
        : 'DDIA_ERR_INTERNAL';
  res
    .writeHead(status, { 'content-type': 'application/problem+json' })
    .end(JSON.stringify({ type: 'about:blank', title, status, detail, code, retriable: false }));
}
