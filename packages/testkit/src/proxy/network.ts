// A whole cluster's worth of link proxies and the faults between its members: latency, bandwidth
// caps, blackholes, resets, and partitions by groups (Jepsen's nemesis vocabulary).
import { type Random, randomSeed, SeededRandom } from '@ddia/common';
import { FaultTable, type PathFaults, type PathMode, ProxyFaultError } from './faults.js';
import { type LinkCounters, LinkProxy } from './link-proxy.js';

/** The pseudo-node that stands for test clients and the CLI user. */
export const CLIENT = 'client';

export interface LinkSpec {
  /** Who opens connections through this link: a node id or 'client'. */
  from: string;
  /** The node the link leads to. */
  to: string;
  /** The target node's real port. */
  targetPort: number;
  targetHost?: string;
  /** The proxy's own port (0 or absent: a free port). */
  listenPort?: number;
}

export interface NetworkOptions {
  links: LinkSpec[];
  listenHost?: string;
  /** Jitter samples come from here; seed it to make a run's delays replay. */
  random?: Random;
}

export interface LinkStatus {
  from: string;
  to: string;
  proxyPort: number;
  targetPort: number;
  /** Faults on bytes from -> to (requests on this link). */
  forward: PathFaults;
  /** Faults on bytes to -> from (responses on this link). */
  backward: PathFaults;
  counters: LinkCounters;
}

export type CutLink = readonly [from: string, to: string];

export class ProxyNetwork {
  readonly faults = new FaultTable();
  private readonly links = new Map<string, LinkProxy>();

  private constructor() {}

  static async start(options: NetworkOptions): Promise<ProxyNetwork> {
    const network = new ProxyNetwork();
    const random = options.random ?? new SeededRandom(randomSeed());
    const host = options.listenHost ?? '127.0.0.1';
    try {
      for (const spec of options.links) {
        if (spec.from === spec.to) throw new ProxyFaultError(`a link from ${spec.from} to itself`);
        const key = `${spec.from}->${spec.to}`;
        if (network.links.has(key)) throw new ProxyFaultError(`link ${key} is declared twice`);
        const link = new LinkProxy({
          from: spec.from,
          to: spec.to,
          targetHost: spec.targetHost ?? '127.0.0.1',
          targetPort: spec.targetPort,
          listenHost: host,
          listenPort: spec.listenPort ?? 0,
          faults: network.faults,
          random: random.fork(),
        });
        network.links.set(key, link);
        await link.listen();
      }
    } catch (err) {
      await network.close();
      throw err;
    }
    return network;
  }

  /** Node ids (not 'client') that appear on any link: the members partitions talk about. */
  nodes(): string[] {
    const ids = new Set<string>();
    for (const link of this.links.values()) {
      if (link.from !== CLIENT) ids.add(link.from);
      if (link.to !== CLIENT) ids.add(link.to);
    }
    return [...ids].sort();
  }

  link(from: string, to: string): LinkProxy {
    const link = this.links.get(`${from}->${to}`);
    if (!link) throw new ProxyFaultError(`no proxied link ${from} -> ${to}`);
    return link;
  }

  /** One-way delay on bytes from `from` to `to` (both on from's requests and from's responses). */
  latency(from: string, to: string, latencyMs: number, jitterMs = 0): void {
    this.checkPath(from, to);
    this.faults.set(from, to, { latencyMs, jitterMs });
  }

  /**
   * Loses lossPct% of the chunks from `from` to `to`: each lost one arrives a TCP retransmission
   * timeout late (TCP itself never loses bytes), holding up what follows it.
   */
  loss(from: string, to: string, lossPct: number): void {
    this.checkPath(from, to);
    this.faults.set(from, to, { lossPct });
  }

  /** Caps bytes per second from `from` to `to`; null lifts the cap. */
  bandwidth(from: string, to: string, bytesPerSecMax: number | null): void {
    this.checkPath(from, to);
    this.faults.set(from, to, { bytesPerSecMax });
  }

  /** Bytes from `from` to `to` are accepted and held, never forwarded, until heal(). */
  blackhole(from: string, to: string): void {
    this.setMode(from, to, 'blackhole');
  }

  /** Connections carrying bytes from `from` to `to` are reset, now and on every new attempt. */
  refuse(from: string, to: string): void {
    this.setMode(from, to, 'reset');
  }

  /** Resets the connections open on link from -> to once, leaving the link usable. */
  resetConnections(from: string, to: string): number {
    return this.link(from, to).resetConnections();
  }

  /**
   * Cuts the network into groups: every path between members of different groups is
   * blackholed (both directions). Nodes not named form one more group together. Clients keep
   * reaching every node, as Jepsen's control node does.
   */
  partition(
    groups: readonly (readonly string[])[],
    mode: Exclude<PathMode, 'pass'> = 'blackhole',
  ): CutLink[] {
    const nodes = this.nodes();
    const groupOf = new Map<string, number>();
    groups.forEach((group, index) => {
      for (const id of group) {
        if (!nodes.includes(id))
          throw new ProxyFaultError(`unknown node '${id}' (nodes: ${nodes.join(', ')})`);
        if (groupOf.has(id)) throw new ProxyFaultError(`node '${id}' is in two groups`);
        groupOf.set(id, index);
      }
    });
    for (const id of nodes) if (!groupOf.has(id)) groupOf.set(id, groups.length);
    const cuts: CutLink[] = [];
    for (const a of nodes) for (const b of nodes) if (groupOf.get(a) !== groupOf.get(b)) cuts.push([a, b]);
    this.heal();
    this.cut(cuts, mode);
    return cuts;
  }

  /** Cuts individual directed paths (bridge and ring shapes are not groups). */
  cut(paths: readonly CutLink[], mode: Exclude<PathMode, 'pass'> = 'blackhole'): void {
    for (const [from, to] of paths) this.checkPath(from, to);
    for (const [from, to] of paths) this.faults.set(from, to, { mode });
  }

  /** Lifts every blackhole, refusal and partition; latency and bandwidth caps stay. */
  heal(): void {
    for (const { from, to, faults } of this.faults.entries()) {
      if (faults.mode !== 'pass') this.faults.set(from, to, { mode: 'pass' });
    }
  }

  /** Removes every fault of every kind. */
  clear(): void {
    for (const { from, to } of this.faults.entries()) {
      this.faults.set(from, to, {
        latencyMs: 0,
        jitterMs: 0,
        bytesPerSecMax: null,
        mode: 'pass',
        lossPct: 0,
      });
    }
  }

  status(): LinkStatus[] {
    return [...this.links.values()].map((link) => ({
      from: link.from,
      to: link.to,
      proxyPort: link.port,
      targetPort: link.targetPort,
      forward: this.faults.get(link.from, link.to),
      backward: this.faults.get(link.to, link.from),
      counters: link.stats(),
    }));
  }

  async close(): Promise<void> {
    await Promise.all([...this.links.values()].map((link) => link.close()));
    this.links.clear();
  }

  private setMode(from: string, to: string, mode: PathMode): void {
    this.checkPath(from, to);
    this.faults.set(from, to, { mode });
  }

  /** A path is known when some link carries its bytes, in either direction. */
  private checkPath(from: string, to: string): void {
    if (from === to) throw new ProxyFaultError(`a path from '${from}' to itself`);
    if (!this.links.has(`${from}->${to}`) && !this.links.has(`${to}->${from}`)) {
      const known = [...this.links.keys()].join(', ');
      throw new ProxyFaultError(`no proxied link carries ${from} -> ${to} (links: ${known})`);
    }
  }
}
