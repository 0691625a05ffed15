// The client the CLI uses to drive a running proxy daemon (`ddia latency|partition|heal`).
import type { CutLink, LinkStatus } from './network.js';

export const CONTROL_DEADLINE_MS = 5_000;

export class ProxyControlError extends Error {
  override name = 'ProxyControlError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export class ProxyControlClient {
  constructor(readonly controlUrl: string) {}

  latency(from: string, to: string, ms: number, jitterMs = 0) {
    return this.post('/latency', { from, to, ms, jitterMs });
  }
  bandwidth(from: string, to: string, bytesPerSec: number | null) {
    return this.post('/bandwidth', { from, to, bytesPerSec });
  }
  async partition(groups: string[][]): Promise<CutLink[]> {
    return ((await this.post('/partition', { groups })) as { cuts: CutLink[] }).cuts;
  }
  heal() {
    return this.post('/heal', {});
  }
  clear() {
    return this.post('/clear', {});
  }
  blackhole(from: string, to: string) {
    return this.post('/blackhole', { from, to });
  }
  async reset(from: string, to: string): Promise<number> {
    return ((await this.post('/reset', { from, to })) as { reset: number }).reset;
  }
  async links(): Promise<{ nodes: string[]; links: LinkStatus[] }> {
    return (await this.send('GET', '/links')) as { nodes: string[]; links: LinkStatus[] };
  }

  private post(path: string, body: object): Promise<unknown> {
    return this.send('POST', path, body);
  }

  private async send(method: 'GET' | 'POST', path: string, body?: object): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(`${this.controlUrl}${path}`, {
        method,
        headers: body ? { 'content-type': 'application/json' } : {},
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(CONTROL_DEADLINE_MS),
      });
    } catch (err) {
      throw new ProxyControlError(
        `proxy daemon at ${this.controlUrl} is not answering (${(err as Error).message}); is the cluster up?`,
        0,
      );
    }
    const text = await response.text();
    const parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    if (!response.ok)
      throw new ProxyControlError(String(parsed.detail ?? parsed.title ?? text), response.status);
    return parsed;
  }
}
