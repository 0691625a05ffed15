// Secondary index queries (DDIA ch. 6 "Partitioning and Secondary Indexes"):
//   GET /indexes                         the indexes (declared by --indexes, or created online)
//   POST /indexes {name, field, kind}    create an index online (backfilled while writes go on)
//   GET /indexes/:name/status            online build progress on every node; ready when done
//   GET /indexes/:name?value=&limit=     documents whose field has that value
// A local index (Figure 6-4) is asked on every partition, grouped by owner (scatter/gather);
// a global index (Figure 6-5) on the one partition its term belongs to. Every answer reports
// its fan-out (partitionsAsked, nodesAsked) so the two can be compared.
// Internal: GET /internal/local-index, GET /internal/postings, POST /internal/postings,
// GET /internal/index-status.
import { DdiaError, type HttpClient, type Service } from '@ddia/common';
import { Type } from 'typebox';
import type { Controller } from '../controller/controller.js';
import { INDEX_KINDS, type IndexSpec, postingKey, postingTermPrefix, TERM_BYTES_MAX } from '../core/index.js';
import { PartErrors } from '../errors.js';
import type { IndexBuilder, IndexBuildStatus } from '../indexes/index-builder.js';
import type { PartitionMetrics } from '../metrics.js';
import type { PartitionNode } from '../partition-node.js';
import { FORWARDED_HEADER, ROUTE_RETRY_MS } from './forwarding.js';

export const INDEX_LIMIT_DEFAULT = 100;
export const INDEX_LIMIT_MAX = 10_000;
const NAME = '^[A-Za-z_][A-Za-z0-9_.-]{0,63}$';

export interface IndexRouteOptions {
  service: Service;
  node: PartitionNode;
  client: HttpClient;
  metrics: PartitionMetrics;
  /** Declared by flag. */
  declared: readonly IndexSpec[];
  /** Every index this node maintains now (declared and online). */
  indexes: () => readonly IndexSpec[];
  builder: IndexBuilder;
  controller: Controller;
  requestTimeoutMs: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function registerIndexRoutes(options: IndexRouteOptions): void {
  const { service, node, client, metrics, indexes, builder } = options;
  const app = service.app;
  const specOf = (name: string) => {
    const spec = indexes().find((i) => i.name === name);
    if (!spec) {
      throw new DdiaError(PartErrors.unknownIndex, `no index ${JSON.stringify(name)}`, {
        indexes: indexes().map((i) => i.name),
      });
    }
    return spec;
  };
  const query = Type.Object({
    value: Type.String({ minLength: 1, maxLength: TERM_BYTES_MAX }),
    limit: Type.Integer({ minimum: 1, maximum: INDEX_LIMIT_MAX, default: INDEX_LIMIT_DEFAULT }),
  });

  app.get(
    '/indexes',
    { schema: { tags: ['indexes'], summary: 'The secondary indexes: declared by flag, or created online' } },
    async () => ({
      indexes: [
        ...options.declared.map((i) => ({ ...i, source: 'flag' })),
        ...builder.online().map((i) => ({ ...i, source: 'online' })),
      ],
    }),
  );

  app.post(
    '/indexes',
    {
      schema: {
        tags: ['indexes'],
        summary:
          'Create a secondary index online: committed to the controller log; every node maintains it from then on and backfills its documents while writes continue',
        body: Type.Object({
          name: Type.String({ pattern: NAME }),
          field: Type.String({ pattern: NAME }),
          kind: Type.Union(INDEX_KINDS.map((k) => Type.Literal(k))),
        }),
      },
    },
    async (request, reply) => {
      const body = request.body as IndexSpec;
      if (options.declared.some((i) => i.name === body.name)) {
        throw new DdiaError(PartErrors.configRefused, `index ${body.name} is declared by --indexes`, {
          refusal: 'index_exists',
        });
      }
      const result = await options.controller.propose({
        op: 'create_index',
        index: { name: body.name, field: body.field, kind: body.kind },
      });
      if (!result.ok) {
        throw new DdiaError(PartErrors.configRefused, result.detail, { refusal: result.refusal });
      }
      return reply.status(202).header('location', `/indexes/${body.name}/status`).send({
        index: body.name,
        field: body.field,
        kind: body.kind,
        epoch: result.epoch,
        state: 'building',
      });
    },
  );

  app.get(
    '/indexes/:name/status',
    {
      schema: {
        tags: ['indexes'],
        summary: 'Build progress of an online index on every node; ready once every owned partition is built',
        params: Type.Object({ name: Type.String({ pattern: NAME }) }),
      },
    },
    async (request) => {
      const { name } = request.params as { name: string };
      if (options.declared.some((i) => i.name === name)) return { index: name, source: 'flag', ready: true };
      const spec = builder.online().find((i) => i.name === name);
      if (!spec) {
        throw new DdiaError(PartErrors.unknownIndex, `no index ${JSON.stringify(name)}`, {
          indexes: indexes().map((i) => i.name),
        });
      }
      const members = node.config().nodes;
      const perNode = await Promise.all(
        members.map(async (member) => {
          try {
            const all =
              member.id === node.id
                ? await builder.status()
                : await client.json<IndexBuildStatus[]>(`${member.url}/internal/index-status`, {
                    deadlineMs: options.requestTimeoutMs,
                    trace: request.trace,
                  });
            const mine = all.find((s) => s.name === name);
            // A node that has not applied the creating epoch yet reports nothing for it.
            return mine
              ? {
                  node: member.id,
                  owned: mine.owned,
                  built: mine.built,
                  documentsIndexed: mine.documentsIndexed,
                }
              : { node: member.id, owned: null, built: 0, documentsIndexed: 0 };
          } catch (error) {
            return {
              node: member.id,
              error: (error as Error).message,
              owned: null,
              built: 0,
              documentsIndexed: 0,
            };
          }
        }),
      );
      const partitions = node.config().partitions.length;
      const built = perNode.reduce((n, s) => n + s.built, 0);
      const ready = perNode.every((s) => s.owned !== null && s.built === s.owned) && built === partitions;
      return {
        index: name,
        field: spec.field,
        kind: spec.kind,
        source: 'online',
        since: spec.since,
        state: ready ? 'ready' : 'building',
        ready,
        partitions,
        partitionsBuilt: built,
        nodes: perNode,
      };
    },
  );

  app.get(
    '/internal/index-status',
    { schema: { tags: ['internal'], summary: "This node's backfill progress of online indexes" } },
    async () => builder.status(),
  );

  app.get(
    '/indexes/:name',
    {
      schema: {
        tags: ['indexes'],
        summary:
          'Keys of the documents whose indexed field equals `value` (local: scatter/gather; global: one partition)',
        params: Type.Object({ name: Type.String({ pattern: NAME }) }),
        querystring: query,
      },
    },
    async (request) => {
      const spec = specOf((request.params as { name: string }).name);
      const { value, limit } = request.query as { value: string; limit: number };
      const deadlineAt = performance.now() + options.requestTimeoutMs;
      const labels = { index: spec.name, kind: spec.kind };
      metrics.indexQueries.inc(labels);
      for (;;) {
        try {
          const answer =
            spec.kind === 'local'
              ? await scatterGather(spec, value, limit)
              : await onePartition(spec, value, limit);
          metrics.indexPartitionsAsked.inc(labels, answer.partitionsAsked);
          return { index: spec.name, field: spec.field, kind: spec.kind, value, ...answer };
        } catch (error) {
          // A partition in the middle of its handoff, or a config behind the owner's: retry.
          const retriable = error instanceof DdiaError && error.retriable;
          if (!retriable || performance.now() + ROUTE_RETRY_MS > deadlineAt) throw error;
          await sleep(ROUTE_RETRY_MS);
        }
      }
    },
  );

  /** Figure 6-4: ask every partition (one request per owner node), merge. */
  async function scatterGather(spec: IndexSpec, term: string, limit: number) {
    const groups = node.ownerGroups();
    const parts = await Promise.all(
      [...groups.entries()].map(async ([owner, group]) => {
        if (owner === node.id) return node.localLookup(group.ids, spec.name, term, limit);
        const q = new URLSearchParams({
          index: spec.name,
          value: term,
          partitions: group.ids.join(','),
          limit: String(limit),
        });
        return remote<string[]>(`${group.url}/internal/local-index?${q}`);
      }),
    );
    const keys = [...new Set(parts.flat())].sort().slice(0, limit);
    const partitionsAsked = [...groups.values()].reduce((n, g) => n + g.ids.length, 0);
    return {
      consistency: 'read-your-writes (same write)',
      partitionsAsked,
      nodesAsked: groups.size,
      count: keys.length,
      keys,
    };
  }

  /** Figure 6-5: the term's postings are all in one partition. */
  async function onePartition(spec: IndexSpec, term: string, limit: number) {
    const placement = node.place(postingTermPrefix(spec.name, term));
    let answer: { partition: number; keys: string[] };
    if (placement.kind === 'local') answer = await node.postings(spec.name, term, limit);
    else {
      const q = new URLSearchParams({ index: spec.name, value: term, limit: String(limit) });
      answer = await remote<{ partition: number; keys: string[] }>(
        `${placement.ownerUrl}/internal/postings?${q}`,
      );
    }
    return {
      consistency: 'eventual (postings are updated asynchronously)',
      partition: answer.partition,
      partitionsAsked: 1,
      nodesAsked: 1,
      count: answer.keys.length,
      keys: answer.keys,
    };
  }

  async function remote<T>(url: string): Promise<T> {
    let response: Awaited<ReturnType<HttpClient['request']>>;
    try {
      response = await client.request(url, {
        headers: { [FORWARDED_HEADER]: node.id },
        deadlineMs: options.requestTimeoutMs,
        retry: false,
      });
    } catch (error) {
      throw new DdiaError(PartErrors.ownerUnreachable, `index query: ${(error as Error).message}`);
    }
    if (response.status === 200) return response.json<T>();
    // The owner refused (moving, wrong owner): retriable; anything else is reported as is.
    const retriable = response.status === 421 || response.status === 503;
    throw new DdiaError(
      retriable ? PartErrors.moving : PartErrors.ownerUnreachable,
      `index query: the owner answered ${response.status}`,
    );
  }

  const partitionsQuery = Type.String({ pattern: '^\\d+(,\\d+)*$' });
  app.get(
    '/internal/local-index',
    {
      schema: {
        tags: ['internal'],
        querystring: Type.Object({
          index: Type.String({ pattern: NAME }),
          value: Type.String(),
          partitions: partitionsQuery,
          limit: Type.Integer({ minimum: 1, maximum: INDEX_LIMIT_MAX }),
        }),
      },
    },
    async (request) => {
      const q = request.query as { index: string; value: string; partitions: string; limit: number };
      return node.localLookup(q.partitions.split(',').map(Number), specOf(q.index).name, q.value, q.limit);
    },
  );
  app.get(
    '/internal/postings',
    {
      schema: {
        tags: ['internal'],
        querystring: Type.Object({
          index: Type.String({ pattern: NAME }),
          value: Type.String(),
          limit: Type.Integer({ minimum: 1, maximum: INDEX_LIMIT_MAX }),
        }),
      },
    },
    async (request) => {
      const q = request.query as { index: string; value: string; limit: number };
      return node.postings(specOf(q.index).name, q.value, q.limit);
    },
  );
  app.post(
    '/internal/postings',
    {
      schema: {
        tags: ['internal'],
        body: Type.Object({
          index: Type.String({ pattern: NAME }),
          term: Type.String({ maxLength: TERM_BYTES_MAX }),
          key: Type.String(),
          version: Type.Integer({ minimum: 1 }),
          live: Type.Boolean(),
        }),
      },
    },
    async (request) => {
      const b = request.body as { index: string; term: string; key: string; version: number; live: boolean };
      const applied = await node.applyPosting(postingKey(specOf(b.index).name, b.term, b.key), {
        version: b.version,
        live: b.live,
      });
      return { applied };
    },
  );
}
