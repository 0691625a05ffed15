// The faults in force on each directed path of a proxied cluster. A path `a -> b` is every byte
// travelling from a to b, whichever side opened the TCP connection: requests a sends to b and
// the responses a sends back to b's requests. That is how `tc netem` on a's egress towards b
// behaves, so "latency n1 n2 50" means what it would mean between two real machines.
import { EventEmitter } from 'node:events';

/** What a path does with bytes: pass them, hold them (blackhole), or reset its connections. */
export type PathMode = 'pass' | 'blackhole' | 'reset';
export const PATH_MODES: readonly PathMode[] = ['pass', 'blackhole', 'reset'];

export interface PathFaults {
  /** Added one-way delay per chunk. */
  latencyMs: number;
  /** Each chunk's delay is latencyMs plus a uniform sample in [-jitterMs, +jitterMs]. */
  jitterMs: number;
  /** Bandwidth cap in bytes per second; null for none. */
  bytesPerSecMax: number | null;
  mode: PathMode;
  /**
   * Percentage of chunks "lost" (absent: 0). TCP never loses bytes: a lost segment arrives one
   * retransmission timeout late, and everything behind it waits (see ShapedPipe).
   */
  lossPct?: number;
}

export const CLEAR_PATH: Readonly<PathFaults> = Object.freeze({
  latencyMs: 0,
  jitterMs: 0,
  bytesPerSecMax: null,
  mode: 'pass',
});

/** Upper bounds, so that a typo cannot stall a test for hours. */
export const LATENCY_MS_MAX = 60_000;
export const BANDWIDTH_BYTES_PER_SEC_MIN = 1;
/** Loss above this would stall a link for minutes (each retry doubles its timeout). */
export const LOSS_PCT_MAX = 50;

/** Bad fault parameters (unknown node, negative latency, ...): a caller's mistake, never a crash. */
export class ProxyFaultError extends Error {
  override name = 'ProxyFaultError';
}

export function pathKey(from: string, to: string): string {
  return `${from}->${to}`;
}

/**
 * A table of per-path faults with change notifications: link proxies listen for changes so
 * that held bytes flow again the moment a blackhole is lifted, without restarting anything.
 */
export class FaultTable extends EventEmitter<{ change: [from: string, to: string, faults: PathFaults] }> {
  private readonly paths = new Map<string, PathFaults>();

  constructor() {
    super();
    // Every link proxy listens: a 5-node cluster with client links has 25 of them, more than
    // Node's default of 10 that exists to catch leaks.
    this.setMaxListeners(0);
  }

  get(from: string, to: string): PathFaults {
    return this.paths.get(pathKey(from, to)) ?? CLEAR_PATH;
  }

  set(from: string, to: string, patch: Partial<PathFaults>): PathFaults {
    const next: PathFaults = { ...this.get(from, to), ...patch };
    validateFaults(next);
    if (isClear(next)) this.paths.delete(pathKey(from, to));
    else this.paths.set(pathKey(from, to), next);
    this.emit('change', from, to, next);
    return next;
  }

  /** Every path with a fault in force. */
  entries(): Array<{ from: string; to: string; faults: PathFaults }> {
    return [...this.paths.entries()].map(([key, faults]) => {
      const [from, to] = key.split('->') as [string, string];
      return { from, to, faults };
    });
  }
}

function isClear(f: PathFaults): boolean {
  return (
    f.latencyMs === 0 &&
    f.jitterMs === 0 &&
    f.bytesPerSecMax === null &&
    f.mode === 'pass' &&
    (f.lossPct ?? 0) === 0
  );
}

export function validateFaults(f: PathFaults): void {
  const finite = (n: number) => typeof n === 'number' && Number.isFinite(n);
  if (!finite(f.latencyMs) || f.latencyMs < 0 || f.latencyMs > LATENCY_MS_MAX)
    throw new ProxyFaultError(`latencyMs must be within 0..${LATENCY_MS_MAX}, got ${f.latencyMs}`);
  if (!finite(f.jitterMs) || f.jitterMs < 0 || f.jitterMs > LATENCY_MS_MAX)
    throw new ProxyFaultError(`jitterMs must be within 0..${LATENCY_MS_MAX}, got ${f.jitterMs}`);
  if (
    f.bytesPerSecMax !== null &&
    (!finite(f.bytesPerSecMax) || f.bytesPerSecMax < BANDWIDTH_BYTES_PER_SEC_MIN)
  )
    throw new ProxyFaultError(`bytesPerSecMax must be a positive number or null, got ${f.bytesPerSecMax}`);
  if (f.lossPct !== undefined && (!finite(f.lossPct) || f.lossPct < 0 || f.lossPct > LOSS_PCT_MAX))
    throw new ProxyFaultError(`lossPct must be within 0..${LOSS_PCT_MAX}, got ${f.lossPct}`);
  if (!PATH_MODES.includes(f.mode))
    throw new ProxyFaultError(`mode must be one of ${PATH_MODES.join(', ')}, got ${String(f.mode)}`);
}
