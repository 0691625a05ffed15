// A userspace TCP proxy for one directed link `from -> to` (node to peer, or client to node):
// it listens on its own loopback port and forwards each connection to the target's real port,
// shaping the bytes in each direction by the faults of that direction's path. This is the
// userspace proxy of etcd's robustness tests and Jepsen's toxiproxy-style setups; faults change
// on the fly, with no node restarted.
import net, { type Server, type Socket } from 'node:net';
import type { Random } from '@ddia/common';
import type { FaultTable, PathFaults } from './faults.js';
import { type Line, ShapedPipe } from './shaped-pipe.js';

export interface LinkProxyOptions {
  from: string;
  to: string;
  targetHost: string;
  targetPort: number;
  listenHost: string;
  /** 0 picks a free port. */
  listenPort: number;
  faults: FaultTable;
  random: Random;
}

interface ProxiedConnection {
  client: Socket;
  upstream: Socket | null;
  forward: ShapedPipe;
  backward: ShapedPipe;
}

export interface LinkCounters {
  connectionsAccepted: number;
  connectionsOpen: number;
  connectionsReset: number;
  bytesForwarded: number;
  bytesReturned: number;
}

export class LinkProxy {
  readonly from: string;
  readonly to: string;
  readonly targetHost: string;
  readonly targetPort: number;
  private readonly server: Server;
  private readonly connections = new Set<ProxiedConnection>();
  private readonly options: LinkProxyOptions;
  private readonly counters: LinkCounters = {
    connectionsAccepted: 0,
    connectionsOpen: 0,
    connectionsReset: 0,
    bytesForwarded: 0,
    bytesReturned: 0,
  };
  private listenPort = 0;
  /** One wire per direction, shared by every connection: bandwidth caps are per link. */
  private readonly forwardLine: Line = { sentEndMs: 0 };
  private readonly backwardLine: Line = { sentEndMs: 0 };
  private readonly onFaultChange = (from: string, to: string, faults: PathFaults) => {
    const mine = (from === this.from && to === this.to) || (from === this.to && to === this.from);
    if (!mine) return;
    if (faults.mode === 'reset') this.resetConnections();
    for (const conn of this.connections) {
      this.connectWhenOpen(conn);
      conn.forward.kick();
      conn.backward.kick();
    }
  };

  constructor(options: LinkProxyOptions) {
    this.options = options;
    this.from = options.from;
    this.to = options.to;
    this.targetHost = options.targetHost;
    this.targetPort = options.targetPort;
    this.server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.accept(socket));
    options.faults.on('change', this.onFaultChange);
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.listenPort, this.options.listenHost, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.listenPort = (this.server.address() as net.AddressInfo).port;
    return this.listenPort;
  }

  get port(): number {
    return this.listenPort;
  }

  get url(): string {
    return `http://${this.options.listenHost}:${this.listenPort}`;
  }

  stats(): LinkCounters {
    return { ...this.counters, connectionsOpen: this.connections.size };
  }

  /** Drops every open connection with a TCP reset (the peers see ECONNRESET). */
  resetConnections(): number {
    const count = this.connections.size;
    for (const conn of [...this.connections]) this.destroy(conn, true);
    this.counters.connectionsReset += count;
    return count;
  }

  async close(): Promise<void> {
    this.options.faults.off('change', this.onFaultChange);
    for (const conn of [...this.connections]) this.destroy(conn, false);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private forwardFaults = (): PathFaults => this.options.faults.get(this.from, this.to);
  private backwardFaults = (): PathFaults => this.options.faults.get(this.to, this.from);

  private accept(client: Socket): void {
    this.counters.connectionsAccepted++;
    if (this.forwardFaults().mode === 'reset' || this.backwardFaults().mode === 'reset') {
      this.counters.connectionsReset++;
      client.resetAndDestroy();
      return;
    }
    client.setNoDelay(true);
    const conn: ProxiedConnection = {
      client,
      upstream: null,
      forward: new ShapedPipe(client, this.forwardFaults, this.options.random, this.forwardLine),
      backward: new ShapedPipe(client, this.backwardFaults, this.options.random, this.backwardLine),
    };
    this.connections.add(conn);
    client.on('data', (chunk: Buffer) => {
      this.counters.bytesForwarded += chunk.length;
      conn.forward.push(chunk);
    });
    client.on('end', () => conn.forward.end());
    client.on('error', () => this.destroy(conn, false));
    client.on('close', () => this.destroy(conn, false));
    this.connectWhenOpen(conn);
  }

  /**
   * Connects upstream unless the forward path is blackholed: a blackholed link must not even
   * reveal whether the target is up, so the connection attempt waits for the hole to close.
   */
  private connectWhenOpen(conn: ProxiedConnection): void {
    if (conn.upstream || this.forwardFaults().mode !== 'pass') return;
    const upstream = net.connect({
      host: this.targetHost,
      port: this.targetPort,
      allowHalfOpen: true,
      noDelay: true,
    });
    conn.upstream = upstream;
    // The backward pipe's source is the upstream socket: rebuild it around the real source.
    const backward = new ShapedPipe(upstream, this.backwardFaults, this.options.random, this.backwardLine);
    conn.backward.close();
    conn.backward = backward;
    upstream.on('connect', () => conn.forward.attach(upstream));
    backward.attach(conn.client);
    upstream.on('data', (chunk: Buffer) => {
      this.counters.bytesReturned += chunk.length;
      backward.push(chunk);
    });
    upstream.on('end', () => backward.end());
    // A refused or failed upstream shows to the client as a reset, as a dead host would.
    upstream.on('error', () => this.destroy(conn, true));
    upstream.on('close', () => {
      // Let bytes still held in the backward pipe reach the client before closing it.
      if (backward.bytesHeld === 0) this.destroy(conn, false);
    });
  }

  private destroy(conn: ProxiedConnection, reset: boolean): void {
    if (!this.connections.delete(conn)) return;
    conn.forward.close();
    conn.backward.close();
    if (reset) {
      if (!conn.client.destroyed) conn.client.resetAndDestroy();
      if (conn.upstream && !conn.upstream.destroyed) conn.upstream.resetAndDestroy();
    } else {
      conn.client.destroy();
      conn.upstream?.destroy();
    }
  }
}
