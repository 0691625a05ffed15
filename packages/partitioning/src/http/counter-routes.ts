// Counters and hot keys (DDIA ch. 6 "Skewed Workloads and Relieving Hot Spots"):
//   POST /counters/:key {by}    add to a counter on any node (forwarded to the owner)
//   GET  /counters/:key         read it
//   GET  /cluster/hot-keys      this node's hottest keys by decayed request rate
//   GET  /cluster/hot-keys?scope=cluster   every node's, merged (salted sub-keys folded in)
// A key declared hot (--hot-keys) is salted: each increment goes to one of --salt-buckets
// sub-keys chosen at random ("key#salt3"), which land on different partitions, so the load of
// one celebrity key is spread over the nodes; a read visits every sub-key and sums them (the
// extra read work the book warns about, reported as partitionsAsked).
import { CommonErrors, DdiaError, type HttpClient, type Service } from '@ddia/common';
import { Type } from 'typebox';
import {
  type HotKeyTracker,
  type KeyRate,
  mergeHotKeys,
  type NodeHotKeys,
  saltedKey,
  saltedKeys,
} from '../core/index.js';
import { PartErrors } from '../errors.js';
import type { PartitionMetrics } from '../metrics.js';
import type { PartitionNode } from '../partition-node.js';
import { FORWARDED_HEADER, isForwarded, ROUTE_RETRY_MS, routeRequest, SENT } from './forwarding.js';
import { parseKey } from './request-parts.js';

export const HOT_KEYS_LIST_MAX = 100;
/** Largest single increment: counters stay exact integers (below 2^53). */
const INCREMENT_MAX = 1e12;

export interface CounterRouteOptions {
  service: Service;
  node: PartitionNode;
  client: HttpClient;
  metrics: PartitionMetrics;
  tracker: HotKeyTracker;
  hotKeys: ReadonlySet<string>;
  saltBuckets: number;
  keyBytesMax: number;
  requestTimeoutMs: number;
}

/** The body is optional (a bare POST adds 1) or {"by": integer}. */
function incrementOf(body: unknown): number {
  if (body === undefined || body === null || body === '') return 1;
  const by = typeof body === 'object' && !Buffer.isBuffer(body) ? (body as { by?: unknown }).by : Number.NaN;
  if (by === undefined) return 1;
  if (typeof by !== 'number' || !Number.isInteger(by) || Math.abs(by) > INCREMENT_MAX) {
    throw new DdiaError(CommonErrors.badRequest, `"by" must be an integer within ±${INCREMENT_MAX}`);
  }
  return by;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function registerCounterRoutes(options: CounterRouteOptions): void {
  const { service, node, client, metrics, tracker, hotKeys, saltBuckets } = options;
  const app = service.app;
  const forwarding = {
    client,
    machine: node.machine,
    selfId: node.id,
    requestTimeoutMs: options.requestTimeoutMs,
  };
  const keyOf = (params: unknown) => parseKey((params as { '*': string })['*'], options.keyBytesMax);

  app.post(
    '/counters/*',
    {
      schema: {
        tags: ['counters'],
        summary:
          'Add `by` (body {"by": n}, default 1) to a counter; a declared hot key is spread over salted sub-keys',
        querystring: Type.Object({
          salt: Type.Optional(Type.Integer({ minimum: 0, maximum: saltBuckets - 1 })),
        }),
      },
    },
    async (request, reply) => {
      const key = keyOf(request.params);
      const by = incrementOf(request.body);
      const salted = hotKeys.has(key);
      // The node that first receives the request picks the bucket; a forwarded request names it.
      const bucket = salted
        ? ((request.query as { salt?: number }).salt ?? Math.floor(Math.random() * saltBuckets))
        : undefined;
      const target = bucket === undefined ? key : saltedKey(key, bucket);
      if (bucket !== undefined) metrics.hotKeyWrites.inc({ key });
      return routeRequest(forwarding, request, reply, true, async () => {
        const placement = node.place(target);
        if (placement.kind === 'remote') {
          if (isForwarded(request)) throw node.wrongOwner(placement);
          const path = `/counters/${encodeURIComponent(key)}${bucket === undefined ? '' : `?salt=${bucket}`}`;
          return { forwardTo: placement.ownerUrl, path };
        }
        const result = await node.increment(target, by);
        const now = performance.now();
        tracker.record(target, now);
        node.load.record(result.partition.id, target, now);
        metrics.partitionRequests.inc({ partition: String(result.partition.id) });
        void reply
          .header('x-partition', String(result.partition.id))
          .header('x-owner', node.id)
          .send({ key, counterKey: target, value: result.value, partition: result.partition.id, salted });
        return SENT;
      });
    },
  );

  app.get(
    '/counters/*',
    { schema: { tags: ['counters'], summary: 'Read a counter; a salted one is the sum of its sub-keys' } },
    async (request) => {
      const key = keyOf(request.params);
      const salted = hotKeys.has(key);
      const keys = salted ? saltedKeys(key, saltBuckets) : [key];
      const reads = await Promise.all(keys.map((k) => readCounter(k)));
      return {
        key,
        value: reads.reduce((sum, r) => sum + r.value, 0),
        salted,
        subKeys: keys.length,
        partitionsAsked: new Set(reads.map((r) => r.partition)).size,
      };
    },
  );

  app.get(
    '/cluster/hot-keys',
    {
      schema: {
        tags: ['admin'],
        summary:
          "Hottest keys by decayed rate per second: this node's (requests it served as owner), or with scope=cluster every node's merged, salted sub-keys folded into their key",
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: HOT_KEYS_LIST_MAX, default: 10 }),
          scope: Type.Union([Type.Literal('node'), Type.Literal('cluster')], { default: 'node' }),
        }),
      },
    },
    async (request) => {
      const { limit, scope } = request.query as { limit: number; scope: 'node' | 'cluster' };
      if (scope === 'node') {
        return {
          node: node.id,
          halfLifeMs: tracker.halfLifeMs,
          declaredHot: [...hotKeys],
          keys: tracker.top(limit, performance.now()),
        };
      }
      // Scatter/gather over every node: each knows only the keys it owns.
      const members = node.config().nodes;
      const answers = await Promise.all(
        members.map(async (member): Promise<NodeHotKeys | { node: string; error: string }> => {
          if (member.id === node.id)
            return { node: node.id, keys: tracker.top(HOT_KEYS_LIST_MAX, performance.now()) };
          try {
            const answer = await client.json<{ keys: KeyRate[] }>(
              `${member.url}/cluster/hot-keys?limit=${HOT_KEYS_LIST_MAX}`,
              { deadlineMs: options.requestTimeoutMs, trace: request.trace },
            );
            return { node: member.id, keys: answer.keys };
          } catch (error) {
            return { node: member.id, error: (error as Error).message };
          }
        }),
      );
      const reached = answers.filter((a): a is NodeHotKeys => 'keys' in a);
      const { total, keys } = mergeHotKeys(reached, limit);
      const fairShare = 1 / Math.max(1, members.filter((m) => m.state === 'active').length);
      return {
        scope: 'cluster',
        halfLifeMs: tracker.halfLifeMs,
        declaredHot: [...hotKeys],
        nodesAsked: members.length,
        nodesAnswered: reached.length,
        ...(reached.length < members.length
          ? { unreachable: answers.filter((a) => 'error' in a).map((a) => a.node) }
          : {}),
        totalPerSecond: total,
        // A key above 1/N of the cluster's load is more than one node's fair share: a
        // candidate for salting (if it is not salted already).
        fairShare,
        keys: keys.map((k) => ({
          ...k,
          hot: k.share > fairShare,
          salted: hotKeys.has(k.key),
        })),
      };
    },
  );

  /** One counter (or sub-key) from its owner, retrying a moving partition within the deadline. */
  async function readCounter(key: string): Promise<{ value: number; partition: number }> {
    const deadlineAt = performance.now() + options.requestTimeoutMs;
    for (;;) {
      try {
        const placement = node.place(key);
        if (placement.kind === 'local') {
          const { partition, entry } = await node.get(key);
          tracker.record(key, performance.now());
          return {
            value: entry ? Number(Buffer.from(entry.value).toString('utf8')) : 0,
            partition: partition.id,
          };
        }
        const response = await client.request(`${placement.ownerUrl}/kv/${encodeURIComponent(key)}`, {
          headers: { [FORWARDED_HEADER]: node.id },
          deadlineMs: Math.max(1, deadlineAt - performance.now()),
          retry: false,
        });
        if (response.status === 200 || response.status === 404) {
          const value = response.status === 200 ? Number(response.text()) : 0;
          return { value, partition: placement.partition.id };
        }
        if (response.status !== 421 && response.status !== 503)
          throw new DdiaError(PartErrors.notACounter, `the owner answered ${response.status} for ${key}`);
      } catch (error) {
        if (error instanceof DdiaError && !error.retriable) throw error;
      }
      if (performance.now() + ROUTE_RETRY_MS > deadlineAt)
        throw new DdiaError(PartErrors.ownerUnreachable, `no owner answered for ${key} within the deadline`);
      await sleep(ROUTE_RETRY_MS);
    }
  }
}
