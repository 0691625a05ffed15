// startCluster: N real processes on free loopback ports, each with its own data dir and log,
// optionally wired through the fault proxy so that every node -> peer and client -> node link
// can be slowed, cut or reset on the fly.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Peer, SeededRandom } from '@ddia/common';
import { CLIENT, type LinkSpec, ProxyNetwork } from '../proxy/network.js';
import {
  ClusterNode,
  type NodeCommand,
  type NodeSpec,
  NodeStartError,
  READY_TIMEOUT_MS_DEFAULT,
} from './cluster-node.js';
import { freePorts } from './ports.js';

export const NODES_MAX = 32;

export interface ClusterOptions {
  /** A count (ids n1..nN) or the ids themselves. */
  nodes: number | string[];
  /** The process to run for a node; spread `node.flags` into the args. */
  command: (node: NodeSpec) => NodeCommand;
  /** Polled until it answers 200 (default '/ready'). */
  readyPath?: string;
  readyTimeoutMs?: number;
  /** Route node -> peer and client -> node traffic through fault proxies. */
  proxied?: boolean;
  /** Seeds the proxies' jitter and loss draws, so a run's injected delays replay (default: random). */
  proxySeed?: number;
  host?: string;
  /** Keep the data dirs and logs after close() (default: when DDIA_KEEP_CLUSTER=1). */
  keepFiles?: boolean;
}

export class Cluster {
  constructor(
    readonly nodes: ClusterNode[],
    /** The fault proxies, when started with proxied: true. */
    readonly network: ProxyNetwork | undefined,
    /** Holds each node's data dir and log file. */
    readonly baseDir: string,
    private readonly keepFiles: boolean,
  ) {}

  node(id: string): ClusterNode {
    const node = this.nodes.find((n) => n.id === id);
    if (!node) throw new RangeError(`no node '${id}' (nodes: ${this.ids().join(', ')})`);
    return node;
  }

  ids(): string[] {
    return this.nodes.map((n) => n.id);
  }

  /** Client-facing URLs (proxied when the cluster is). */
  urls(): string[] {
    return this.nodes.map((n) => n.url);
  }

  /** The proxies; throws if the cluster was started without them. */
  proxies(): ProxyNetwork {
    if (!this.network) throw new RangeError('this cluster was started without proxied: true');
    return this.network;
  }

  /** The tail of every node's log, for a failure report. */
  async logTails(lines?: number): Promise<string> {
    return (await Promise.all(this.nodes.map((n) => n.logTail(lines)))).join('\n');
  }

  /** Kills every node, closes the proxies and removes the files (unless kept). Idempotent. */
  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.dispose()));
    await this.network?.close();
    if (!this.keepFiles) await rm(this.baseDir, { recursive: true, force: true });
  }
}

/** Attempts at starting a cluster whose node lost its port to another process (ports.ts). */
const PORT_RACE_ATTEMPTS = 3;

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startClusterOnce(options);
    } catch (err) {
      // freePorts hands out ports that were free a moment ago; under a long fault run another
      // process (a proxy's outbound connection) can take one first. Start again on new ports.
      const lostPort = err instanceof NodeStartError && err.message.includes('EADDRINUSE');
      if (!lostPort || attempt >= PORT_RACE_ATTEMPTS) throw err;
    }
  }
}

async function startClusterOnce(options: ClusterOptions): Promise<Cluster> {
  const ids =
    typeof options.nodes === 'number'
      ? Array.from({ length: options.nodes }, (_, i) => `n${i + 1}`)
      : [...options.nodes];
  if (ids.length === 0 || ids.length > NODES_MAX)
    throw new RangeError(`a cluster has 1..${NODES_MAX} nodes, got ${ids.length}`);
  if (new Set(ids).size !== ids.length) throw new RangeError(`node ids repeat: ${ids.join(', ')}`);
  const host = options.host ?? '127.0.0.1';
  const keepFiles = options.keepFiles ?? process.env.DDIA_KEEP_CLUSTER === '1';
  const baseDir = await mkdtemp(join(tmpdir(), 'ddia-cluster-'));
  const ports = await freePorts(ids.length, host);
  const portOf = new Map(ids.map((id, i) => [id, ports[i]!]));
  const directUrl = (id: string) => `http://${host}:${portOf.get(id)}`;

  let network: ProxyNetwork | undefined;
  if (options.proxied) {
    const links: LinkSpec[] = [];
    for (const from of [...ids, CLIENT])
      for (const to of ids)
        if (from !== to) links.push({ from, to, targetPort: portOf.get(to)!, targetHost: host });
    network = await ProxyNetwork.start({
      links,
      listenHost: host,
      random: options.proxySeed === undefined ? undefined : new SeededRandom(options.proxySeed),
    });
  }

  const nodes = await Promise.all(
    ids.map(async (id) => {
      const dataDir = join(baseDir, id, 'data');
      await mkdir(dataDir, { recursive: true });
      // A node reaches itself directly and each peer through the proxy of that directed link.
      const peers: Peer[] = ids.map((peer) => ({
        id: peer,
        url: peer === id || !network ? directUrl(peer) : network.link(id, peer).url,
      }));
      const spec: NodeSpec = {
        id,
        host,
        port: portOf.get(id)!,
        dataDir,
        directUrl: directUrl(id),
        peers,
        flags: [
          '--id',
          id,
          '--host',
          host,
          '--port',
          String(portOf.get(id)),
          '--peers',
          peers.map((p) => `${p.id}=${p.url}`).join(','),
          '--data-dir',
          dataDir,
        ],
      };
      return new ClusterNode({
        spec,
        command: options.command(spec),
        logFile: join(baseDir, id, 'node.log'),
        clientUrl: network ? network.link(CLIENT, id).url : directUrl(id),
        readyPath: options.readyPath ?? '/ready',
        readyTimeoutMs: options.readyTimeoutMs ?? READY_TIMEOUT_MS_DEFAULT,
      });
    }),
  );
  const cluster = new Cluster(nodes, network, baseDir, keepFiles);
  try {
    await Promise.all(nodes.map((n) => n.start()));
  } catch (err) {
    const tails = await cluster.logTails();
    await cluster.close();
    if (err instanceof NodeStartError) throw new NodeStartError(`${err.message}\n${tails}`);
    throw err;
  }
  return cluster;
}
