// One directed link of a latency matrix onto testkit's fault proxy: its delay, jitter and loss.
import type { ProxyNetwork } from '@ddia/testkit';
import type { LinkDelay } from '../core/latency-matrix.js';

export function applyLink(network: ProxyNetwork, from: string, to: string, d: LinkDelay): void {
  network.latency(from, to, d.latencyMs, d.jitterMs);
  network.loss(from, to, d.lossPct ?? 0);
}
