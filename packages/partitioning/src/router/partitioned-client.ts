// A partition-aware client (DDIA ch. 6 "Request Routing", the third option: the client knows
// the assignment and connects to the owner directly). It caches the cluster's configuration
// (GET /cluster/config from any node), computes a key's partition with the same pure function
// the nodes use (core/partitioner.ts), and sends the request straight to the owner, marked so
// that the owner answers instead of forwarding. A wrong-owner answer (421, naming the epoch the
// node knows) or a refused connection makes it fetch the configuration again and retry; a
// partition in its handoff (503 moving) is retried after a short pause; all within a deadline.
// The router tier (router.ts) is this client behind an HTTP port.

import type { TraceContext } from '@ddia/common';
import {
  DdiaError,
  HttpClient,
  type HttpResponse,
  HttpTimeoutError,
  HttpUnavailableError,
} from '@ddia/common';
import { type ClusterConfig, type PartitionInfo, partitionIndexOf, splitCompoundKey } from '../core/index.js';
import { PartErrors } from '../errors.js';
import { FORWARDED_HEADER } from '../http/forwarding.js';

const RETRY_PAUSE_MS = 25;
/** Retriable refusals of a partition that is between owners. */
const PAUSE_CODES = new Set<string>([
  PartErrors.moving.code,
  PartErrors.notReady.code,
  PartErrors.ownerUnreachable.code,
]);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface PartitionedClientOptions {
  /** Node URLs to learn the configuration from (any member will do). */
  seeds: string[];
  /** Shown to the owner in x-part-forwarded-by (for its logs). */
  name?: string;
  deadlineMs?: number;
  client?: HttpClient;
}

export interface KeyRequest {
  method: 'GET' | 'PUT' | 'DELETE';
  key: string;
  body?: Uint8Array;
  headers?: Record<string, string>;
  deadlineMs?: number;
  trace?: TraceContext;
}

export interface RoutingStats {
  configRefreshes: number;
  wrongOwnerAnswers: number;
  movingAnswers: number;
  unreachable: number;
}

export class PartitionedClient {
  private cached: ClusterConfig | null = null;
  private refreshing: Promise<ClusterConfig> | null = null;
  private readonly client: HttpClient;
  private readonly ownsClient: boolean;
  private readonly seeds: string[];
  readonly stats: RoutingStats = {
    configRefreshes: 0,
    wrongOwnerAnswers: 0,
    movingAnswers: 0,
    unreachable: 0,
  };

  constructor(private readonly options: PartitionedClientOptions) {
    if (options.seeds.length === 0) throw new Error('a partitioned client needs at least one seed');
    this.seeds = options.seeds.map((s) => s.replace(/\/+$/, ''));
    this.ownsClient = options.client === undefined;
    this.client = options.client ?? new HttpClient({ deadlineMs: options.deadlineMs ?? 5_000, retries: 0 });
  }

  get config(): ClusterConfig | null {
    return this.cached;
  }

  /** The partition of `key` and its owner's URL under the cached configuration. */
  async locate(key: string): Promise<{ partition: PartitionInfo; ownerUrl: string; epoch: number }> {
    const config = this.cached ?? (await this.refresh());
    const partition = config.partitions[partitionIndexOf(config, key)] as PartitionInfo;
    const owner = config.nodes.find((n) => n.id === partition.owner);
    if (!owner) throw new DdiaError(PartErrors.notReady, `owner ${partition.owner} has no url`);
    return { partition, ownerUrl: owner.url, epoch: config.epoch };
  }

  /** Fetches the configuration again (one fetch at a time); never goes back to an older epoch. */
  refresh(): Promise<ClusterConfig> {
    if (!this.refreshing) {
      this.refreshing = this.fetchConfig().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  private async fetchConfig(): Promise<ClusterConfig> {
    this.stats.configRefreshes++;
    const known = this.cached?.nodes.map((n) => n.url) ?? [];
    const urls = [...new Set([...known, ...this.seeds])];
    // Start at a different node each time so that one dead seed does not stall every refresh.
    const offset = this.stats.configRefreshes % urls.length;
    let lastError: unknown;
    for (let i = 0; i < urls.length; i++) {
      const url = urls[(offset + i) % urls.length] as string;
      try {
        const response = await this.client.request(`${url}/cluster/config`, {
          deadlineMs: 1_000,
          retry: false,
        });
        if (response.status !== 200) {
          lastError = new Error(`${url} answered ${response.status}`);
          continue;
        }
        const config = response.json<ClusterConfig>();
        if (!this.cached || config.epoch >= this.cached.epoch) this.cached = config;
        return this.cached;
      } catch (error) {
        lastError = error;
      }
    }
    if (this.cached) return this.cached;
    throw new DdiaError(
      PartErrors.notReady,
      `no node answered with the cluster configuration: ${(lastError as Error)?.message}`,
    );
  }

  /**
   * Sends a request for one key to its owner; retries wrong-owner and moving answers until the
   * deadline. Answers the owner's response (a 2xx, or a final 4xx/5xx the caller relays).
   */
  async request(req: KeyRequest): Promise<HttpResponse> {
    const deadlineMs = req.deadlineMs ?? this.options.deadlineMs ?? 5_000;
    const deadlineAt = performance.now() + deadlineMs;
    const mutates = req.method !== 'GET';
    const path = keyPath(req.key);
    let last: HttpResponse | undefined;
    // The owner a 421 named, tried next before the refreshed configuration says so.
    let named: string | undefined;
    for (;;) {
      const remainingMs = deadlineAt - performance.now();
      if (remainingMs <= RETRY_PAUSE_MS) {
        if (last) return last;
        throw new DdiaError(PartErrors.ownerUnreachable, 'no owner took the request within the deadline');
      }
      let target: string;
      try {
        target = named ?? (await this.locate(req.key)).ownerUrl;
        named = undefined;
      } catch (error) {
        if (!(error instanceof DdiaError) || !error.retriable) throw error;
        await sleep(RETRY_PAUSE_MS);
        continue;
      }
      let response: HttpResponse;
      try {
        response = await this.client.request(`${target}${path}`, {
          method: req.method,
          headers: { ...(req.headers ?? {}), [FORWARDED_HEADER]: this.options.name ?? 'client' },
          ...(req.body !== undefined ? { body: req.body } : {}),
          deadlineMs: Math.max(1, remainingMs),
          retry: false,
          ...(req.trace ? { trace: req.trace } : {}),
        });
      } catch (error) {
        const refused =
          error instanceof HttpUnavailableError &&
          /ECONNREFUSED/.test(String((error.cause as { code?: string })?.code));
        if (!(error instanceof HttpUnavailableError || error instanceof HttpTimeoutError)) throw error;
        // A write that may have reached the owner cannot be retried blindly.
        if (mutates && !refused) {
          throw new DdiaError(PartErrors.outcomeUnknown, `the owner did not answer: ${error.message}`);
        }
        this.stats.unreachable++;
        await this.refresh().catch(() => undefined);
        await sleep(RETRY_PAUSE_MS);
        continue;
      }
      const problem = problemOf(response);
      if (problem?.code === PartErrors.wrongOwner.code) {
        this.stats.wrongOwnerAnswers++;
        last = response;
        const known = this.cached?.epoch ?? 0;
        // The node knows a newer assignment than ours: go straight to the owner it names, and
        // fetch that assignment meanwhile. Otherwise the node is behind (it has not applied our
        // epoch yet): give it a moment.
        if (typeof problem.epoch !== 'number' || problem.epoch > known) {
          const refreshed = this.refresh().catch(() => undefined);
          if (problem.ownerUrl && problem.ownerUrl !== target) named = problem.ownerUrl;
          else await refreshed;
        } else if (problem.epoch === known) await this.refresh().catch(() => undefined);
        else await sleep(RETRY_PAUSE_MS);
        continue;
      }
      if (problem?.code && PAUSE_CODES.has(problem.code)) {
        this.stats.movingAnswers++;
        last = response;
        await sleep(RETRY_PAUSE_MS);
        // A partition that has moved on: the flip shows up as a newer epoch.
        if (this.stats.movingAnswers % 8 === 0) await this.refresh().catch(() => undefined);
        continue;
      }
      return response;
    }
  }

  get(key: string, deadlineMs?: number): Promise<HttpResponse> {
    return this.request({ method: 'GET', key, ...(deadlineMs ? { deadlineMs } : {}) });
  }

  put(key: string, value: Uint8Array | string, headers?: Record<string, string>): Promise<HttpResponse> {
    return this.request({
      method: 'PUT',
      key,
      body: typeof value === 'string' ? Buffer.from(value) : value,
      headers: { 'content-type': 'application/octet-stream', ...(headers ?? {}) },
    });
  }

  delete(key: string, headers?: Record<string, string>): Promise<HttpResponse> {
    return this.request({ method: 'DELETE', key, ...(headers ? { headers } : {}) });
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.client.close();
  }
}

function problemOf(response: HttpResponse): { code?: string; epoch?: number; ownerUrl?: string } | undefined {
  if (!String(response.headers['content-type'] ?? '').includes('problem+json')) return undefined;
  try {
    return response.json<{ code?: string; epoch?: number; ownerUrl?: string }>();
  } catch {
    return undefined;
  }
}

/** The request path of a stored key: `/kv/<key>`, or `/kv/<partition key>?sort=<sort key>` for a
 *  compound key (`compoundKey(pk, sk)`). */
export function keyPath(key: string): string {
  const parts = splitCompoundKey(key);
  const path = (k: string) => `/kv/${k.split('/').map(encodeURIComponent).join('/')}`;
  if (!parts) return path(key);
  return `${path(parts.partitionKey)}?sort=${encodeURIComponent(parts.sortKey)}`;
}
