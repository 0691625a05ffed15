// The client the CLI uses to drive a running proxy daemon (`ddia latency|partition|heal`).
import { HttpClient, ProblemError } from '@ddia/common';
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
  private readonly client = new HttpClient({ deadlineMs: CONTROL_DEADLINE_MS, retries: 0 });

  constructor(readonly controlUrl: string) {}

  close(): Promise<void> {
    return this.client.close();
  }

  latency(from: string, to: string, ms: number, jitterMs = 0) {
    return this.post('/latency', { from, to, ms, jitterMs });
  }
  loss(from: string, to: string, pct: number) {
    return this.post('/loss', { from, to, pct });
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
    try {
      return await this.client.json(`${this.controlUrl}${path}`, { method, body, retry: false });
    } catch (err) {
      if (err instanceof ProblemError) {
        throw new ProxyControlError(
          String(err.problem?.detail ?? err.problem?.title ?? err.message),
          err.status,
        );
      }
      throw new ProxyControlError(
        `proxy daemon at ${this.controlUrl} is not answering (${(err as Error).message}); is the cluster up?`,
        0,
      );
    }
  }
}
