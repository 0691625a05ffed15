// HTTP routes only: validate, route the key to its partition's owner, map results to HTTP.
//   client:   PUT/GET/DELETE /kv/:key, GET /kv?start=&end=&limit=   (any node; forwarded)
//   admin:    GET /cluster, POST /cluster/nodes, DELETE /cluster/nodes/:id, GET /cluster/node
//   internal: /internal/partitions/:id/{snapshot,changes,pull}, /internal/scan
import { isUtf8 } from 'node:buffer';
import { CommonErrors, DdiaError, type HttpClient, type Service, withRawBodies } from '@ddia/common';
import type { RaftNode } from '@ddia/raft';
import type {} from '@fastify/swagger';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import type { Controller } from './controller/controller.js';
import { type HotKeyTracker, type PartitionInfo, sortKeyRange, splitCompoundKey } from './core/index.js';
import type { Change, SnapshotItem, WriteOutcome } from './data/partition-store.js';
import type { Receiver } from './data/receiver.js';
import { PartErrors } from './errors.js';
import { type ForwardOptions, type Routed, routeRequest, SENT } from './http/forwarding.js';
import { CHANGES_SCHEMA } from './http/replica-routes.js';
import { parseClientKey, parseCondition, parseKey } from './http/request-parts.js';
import type { PartitionMetrics } from './metrics.js';
import type { PartitionNode } from './partition-node.js';
import type { Learners } from './replicas/learners.js';

export const SCAN_LIMIT_DEFAULT = 100;
export const SCAN_LIMIT_MAX = 10_000;
/** Keys a size query counts at most (a merge looks for ranges far smaller). */
export const SIZE_LIMIT_MAX = 1_000_000;
/** Node ids as --peers accepts them. */
const NODE_ID_PATTERN = '^[A-Za-z0-9_.-]{1,64}$';

export interface ServerOptions {
  service: Service;
  node: PartitionNode;
  controller: Controller;
  receiver: Receiver;
  learners: Learners;
  raft: () => RaftNode<unknown>;
  client: HttpClient;
  metrics: PartitionMetrics;
  tracker: HotKeyTracker;
  keyBytesMax: number;
  valueBytesMax: number;
  requestTimeoutMs: number;
  /** Splits, merges and colocations this node's splitter proposed (GET /cluster). */
  shapeChanges: () => object;
}

export function registerRoutes(options: ServerOptions): void {
  const { service, node, metrics } = options;
  const app = service.app;
  const forwarding: ForwardOptions = {
    client: options.client,
    machine: node.machine,
    selfId: node.id,
    requestTimeoutMs: options.requestTimeoutMs,
  };
  const keyOf = (request: { params: unknown; query: unknown }) =>
    parseClientKey(
      (request.params as { '*': string })['*'],
      (request.query as { sort?: unknown }).sort,
      options.keyBytesMax,
    );
  const tag = (reply: FastifyReply, partition: PartitionInfo) =>
    reply
      .header('x-partition', String(partition.id))
      .header('x-owner', node.id)
      .header('x-epoch', String(node.config().epoch));

  /** Counts a request served here: per partition (metrics, load splits) and per key (hot keys). */
  const served = (partition: PartitionInfo, key: string) => {
    const now = performance.now();
    metrics.partitionRequests.inc({ partition: String(partition.id) });
    node.load.record(partition.id, key, now);
    options.tracker.record(key, now);
  };

  const writeReply = (
    reply: FastifyReply,
    key: string,
    partition: PartitionInfo,
    outcome: WriteOutcome,
  ): Routed => {
    tag(reply, partition);
    served(partition, key);
    switch (outcome.status) {
      case 'ok':
        metrics.requests.inc({ op: outcome.deleted ? 'delete' : 'put', outcome: 'ok' });
        if (outcome.deleted) {
          void reply.status(204).send();
          return SENT;
        }
        void reply
          .header('etag', `"${outcome.version}"`)
          .status(outcome.created ? 201 : 200)
          .send({
            ...keyFields(key),
            version: outcome.version,
            partition: partition.id,
            created: outcome.created,
          });
        return SENT;
      case 'not_found':
        throw new DdiaError(PartErrors.keyNotFound, `no key ${JSON.stringify(key)}`);
      case 'precondition_failed':
        if (outcome.current !== null) reply.header('etag', `"${outcome.current}"`);
        throw new DdiaError(
          PartErrors.preconditionFailed,
          outcome.current === null ? `${key} does not exist` : `${key} is at version ${outcome.current}`,
          { currentVersion: outcome.current },
        );
    }
  };

  /** Local if this node owns the key's partition, else the owner's URL (or a 421 when the
   *  request may not be forwarded again). */
  const placeOrForward = (
    mayForward: boolean,
    key: string,
    op: 'put' | 'get' | 'delete',
    local: () => Promise<Routed>,
  ): Promise<Routed> => {
    const placement = node.place(key);
    if (placement.kind === 'local') return local();
    if (!mayForward) {
      metrics.wrongOwner.inc();
      throw node.wrongOwner(placement);
    }
    metrics.forwarded.inc({ op });
    return Promise.resolve({ forwardTo: placement.ownerUrl });
  };

  app.register(async (scope) => {
    withRawBodies(scope);

    scope.put(
      '/kv/*',
      {
        bodyLimit: options.valueBytesMax,
        schema: {
          tags: ['kv'],
          summary:
            'Write a value (raw bytes) on any node. ?sort=<sort key> makes the path\'s key a partition key (compound key). If-Match: "<version>" = CAS, If-None-Match: * = create',
        },
      },
      async (request, reply) => {
        const key = keyOf(request);
        const body = request.body;
        const value = body === undefined || body === null ? Buffer.alloc(0) : body;
        if (!Buffer.isBuffer(value))
          throw new DdiaError(CommonErrors.badRequest, 'the body must be raw bytes');
        const condition = parseCondition(request.headers, true);
        return routeRequest(forwarding, request, reply, true, (mayForward) =>
          placeOrForward(mayForward, key, 'put', async () => {
            const { partition, outcome } = await node.write(key, value, condition);
            return writeReply(reply, key, partition, outcome);
          }),
        );
      },
    );

    scope.delete(
      '/kv/*',
      {
        schema: {
          tags: ['kv'],
          summary:
            'Delete a key (?sort=: a compound key) on any node. If-Match: "<version>" deletes only that version',
        },
      },
      async (request, reply) => {
        const key = keyOf(request);
        const condition = parseCondition(request.headers, false);
        return routeRequest(forwarding, request, reply, true, (mayForward) =>
          placeOrForward(mayForward, key, 'delete', async () => {
            const { partition, outcome } = await node.write(key, null, condition);
            return writeReply(reply, key, partition, outcome);
          }),
        );
      },
    );

    scope.get(
      '/kv/*',
      {
        schema: {
          tags: ['kv'],
          summary: 'Read a value (raw bytes) with its version as ETag, on any node (?sort=: a compound key)',
        },
      },
      async (request, reply) => {
        const key = keyOf(request);
        return routeRequest(forwarding, request, reply, false, (mayForward) =>
          placeOrForward(mayForward, key, 'get', async () => {
            const { partition, entry } = await node.get(key);
            tag(reply, partition);
            served(partition, key);
            metrics.requests.inc({ op: 'get', outcome: entry ? 'ok' : 'not_found' });
            if (!entry) throw new DdiaError(PartErrors.keyNotFound, `no key ${JSON.stringify(key)}`);
            void reply
              .header('etag', `"${entry.version}"`)
              .type('application/octet-stream')
              .send(Buffer.from(entry.value.buffer, entry.value.byteOffset, entry.value.byteLength));
            return SENT;
          }),
        );
      },
    );
  });

  app.get(
    '/kv',
    {
      schema: {
        tags: ['kv'],
        summary:
          'Scan keys in [start, end): range partitions are visited in key order; hash partitions are all asked (scatter/gather) and merged. With partition=<partition key>: its sort keys in [start, end), in order, from the one partition holding them',
        querystring: Type.Object({
          partition: Type.Optional(Type.String()),
          start: Type.Optional(Type.String()),
          end: Type.Optional(Type.String()),
          limit: Type.Integer({ minimum: 1, maximum: SCAN_LIMIT_MAX, default: SCAN_LIMIT_DEFAULT }),
        }),
      },
    },
    async (request) => {
      const q = request.query as { partition?: string; start?: string; end?: string; limit: number };
      const from = q.start ? parseKey(q.start, options.keyBytesMax, 'start') : '';
      const to = q.end ? parseKey(q.end, options.keyBytesMax, 'end') : null;
      // A partition key's sort keys are one run of stored keys in one partition (compound-key.ts).
      const partitionKey =
        q.partition === undefined ? undefined : parseKey(q.partition, options.keyBytesMax, 'partition key');
      const { start, end } =
        partitionKey === undefined ? { start: from, end: to } : sortKeyRange(partitionKey, from, to);
      const plan = node.scanPlan(start, end, partitionKey);
      // One item past the page from each partition tells whether there is more.
      const fetchLimit = q.limit + 1;
      const parts = await Promise.all(
        [...plan.entries()].map(async ([owner, group]) => {
          if (owner === node.id) return node.scanLocal(group.ids, start, end, fetchLimit);
          const query = new URLSearchParams({
            partitions: group.ids.join(','),
            start,
            limit: String(fetchLimit),
          });
          if (end !== null) query.set('end', end);
          try {
            return await options.client.json<SnapshotItem[]>(`${group.url}/internal/scan?${query}`, {
              deadlineMs: options.requestTimeoutMs,
              trace: request.trace,
            });
          } catch (error) {
            throw new DdiaError(
              PartErrors.ownerUnreachable,
              `scan of ${owner} failed: ${(error as Error).message}`,
            );
          }
        }),
      );
      const items = parts.flat().sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      const page = items.slice(0, q.limit);
      return {
        epoch: node.config().epoch,
        partitionsVisited: [...plan.values()].reduce((n, g) => n + g.ids.length, 0),
        count: page.length,
        more: items.length > q.limit,
        items: page.map((item) => {
          const value = Buffer.from(item.value, 'base64');
          const utf8 = isUtf8(value);
          return {
            ...keyFields(item.key),
            value: utf8 ? value.toString('utf8') : item.value,
            encoding: utf8 ? 'utf8' : 'base64',
            version: item.version,
          };
        }),
      };
    },
  );

  // Admin.
  app.get(
    '/cluster',
    { schema: { tags: ['admin'], summary: 'Partitions, owners, targets, epoch, moves in progress' } },
    async () => {
      const config = node.machine.config;
      const now = performance.now();
      // This node's side: the request rate of each partition it owns (what a load split
      // weighs) and the splits, merges and colocations its splitter proposed.
      const load = (config?.partitions ?? [])
        .filter((p) => p.owner === node.id)
        .map((p) => ({ partition: p.id, perSecond: Math.round(node.load.perSecond(p.id, now) * 10) / 10 }));
      return { ...options.controller.view(), load, shapeChanges: options.shapeChanges() };
    },
  );
  app.get(
    '/cluster/config',
    {
      schema: {
        tags: ['admin'],
        summary:
          "This node's applied configuration as is: what a router or a PartitionedClient caches to route keys itself",
      },
    },
    async () => node.config(),
  );
  app.get(
    '/cluster/node',
    { schema: { tags: ['admin'], summary: "This node's controller-group (Raft) status" } },
    async () => options.raft().status(),
  );
  app.post(
    '/cluster/nodes',
    {
      schema: {
        tags: ['admin'],
        summary: 'Add a node (started with --join): the controller adds it and moves partitions to it',
        body: Type.Object({
          id: Type.String({ pattern: NODE_ID_PATTERN }),
          url: Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2048 }),
        }),
      },
    },
    async (request, reply) => {
      const body = request.body as { id: string; url: string };
      const result = await options.controller.join(body.id, body.url.replace(/\/+$/, ''), request);
      return reply.status(202).send(result);
    },
  );
  app.delete(
    '/cluster/nodes/:id',
    {
      schema: {
        tags: ['admin'],
        summary: 'Remove a node: its partitions move away, then it leaves the controller group',
        params: Type.Object({ id: Type.String({ pattern: NODE_ID_PATTERN }) }),
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      return reply.status(202).send(await options.controller.leave(id));
    },
  );

  // Internal: partition copies and scans between nodes.
  const partitionParams = Type.Object({ id: Type.Integer({ minimum: 0 }) });
  const ownPartition = (id: number) => {
    const partition = node.config().partitions.find((p) => p.id === id);
    if (!partition) throw new DdiaError(PartErrors.unknownPartition, `no partition ${id}`);
    if (partition.owner !== node.id) {
      throw new DdiaError(
        PartErrors.configRefused,
        `partition ${id} is owned by ${partition.owner}, not ${node.id}`,
      );
    }
    return partition;
  };
  app.get(
    '/internal/partitions/:id/snapshot',
    { schema: { tags: ['internal'], params: partitionParams } },
    async (request) => node.store.snapshot(ownPartition((request.params as { id: number }).id)),
  );
  app.get(
    '/internal/partitions/:id/size',
    {
      schema: {
        tags: ['internal'],
        params: partitionParams,
        querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: SIZE_LIMIT_MAX }) }),
      },
    },
    async (request) =>
      node.size((request.params as { id: number }).id, (request.query as { limit: number }).limit),
  );
  /** Seals partition `id` for the freeze of `epoch` (partition-store.ts `seal`): once this node
   *  has applied that freeze, waits for its writes in flight; from then on it takes none. */
  const sealFor = async (id: number, epoch: number) => {
    const config = await node.machine.waitEpoch(epoch, options.requestTimeoutMs).catch(() => {
      throw new DdiaError(PartErrors.notReady, `epoch ${epoch} not applied here yet`);
    });
    const partition = config.partitions.find((p) => p.id === id);
    if (!partition || partition.owner !== node.id || !partition.frozen) {
      throw new DdiaError(PartErrors.configRefused, `partition ${id} is not frozen on ${node.id}`);
    }
    return node.store.seal(id, epoch);
  };
  // The handoff of a move whose target was fed every write (replicas/learners.ts): the mover
  // seals the owner directly and asks the target where its copy is, both at once; when the
  // target's process acknowledged every change up to the sealed one, no final pull is needed.
  app.post(
    '/internal/partitions/:id/seal',
    {
      schema: {
        tags: ['internal'],
        params: partitionParams,
        body: Type.Object({
          epoch: Type.Integer({ minimum: 1 }),
          target: Type.String({ pattern: NODE_ID_PATTERN }),
        }),
      },
    },
    async (request) => {
      const { id } = request.params as { id: number };
      const { epoch, target } = request.body as { epoch: number; target: string };
      const sealed = await sealFor(id, epoch);
      return { sealed, learner: options.learners.heldBy(id, target) };
    },
  );
  app.get(
    '/internal/partitions/:id/place',
    { schema: { tags: ['internal'], params: partitionParams } },
    async (request) => options.receiver.place((request.params as { id: number }).id),
  );
  app.get(
    '/internal/partitions/:id/changes',
    {
      schema: {
        tags: ['internal'],
        params: partitionParams,
        querystring: Type.Object({
          generation: Type.String(),
          after: Type.Integer({ minimum: 0 }),
          // The final catch-up of a move: seal for this freeze epoch first, answer the sealed seq.
          seal: Type.Optional(Type.Integer({ minimum: 1 })),
          // The move's target, caught up by this answer: from now on it is fed every write
          // before the write is acknowledged (replicas/learners.ts).
          learn: Type.Optional(Type.String({ pattern: NODE_ID_PATTERN })),
          learnerGeneration: Type.Optional(Type.String({ maxLength: 64 })),
        }),
      },
    },
    async (request) => {
      const { id } = request.params as { id: number };
      const { generation, after, seal, learn, learnerGeneration } = request.query as {
        generation: string;
        after: number;
        seal?: number;
        learn?: string;
        learnerGeneration?: string;
      };
      const sealed = seal === undefined ? undefined : await sealFor(id, seal);
      const partition = sealed === undefined ? ownPartition(id) : undefined;
      const learnerUrl =
        learn !== undefined && partition?.target === learn
          ? node.config().nodes.find((n) => n.id === learn)?.url
          : undefined;
      const changes = await node.store.changes(
        id,
        generation,
        after,
        learnerUrl === undefined
          ? undefined
          : (seq) => options.learners.register(id, learn as string, learnerUrl, seq, learnerGeneration),
      );
      if (!changes)
        throw new DdiaError(PartErrors.changesGone, `changes after ${after} of partition ${id} are gone`);
      if (sealed !== undefined) return { ...changes, sealed };
      return learnerUrl === undefined ? changes : { ...changes, learning: true };
    },
  );
  app.post(
    '/internal/partitions/:id/pull',
    {
      schema: {
        tags: ['internal'],
        params: partitionParams,
        body: Type.Object({
          from: Type.String(),
          epoch: Type.Integer({ minimum: 1 }),
          // The final pull of a move: the owner seals for the freeze of `epoch` and this node
          // copies exactly up to where it sealed.
          final: Type.Optional(Type.Boolean()),
        }),
      },
    },
    async (request) => {
      const { id } = request.params as { id: number };
      const body = request.body as { from: string; epoch: number; final?: boolean };
      const result = await options.receiver.pull(id, body.from, body.epoch, body.final === true);
      metrics.keysCopied.inc(result.keysCopied);
      metrics.bytesCopied.inc(result.bytesCopied);
      return result;
    },
  );
  app.post(
    '/internal/partitions/:id/learn',
    {
      schema: {
        tags: ['internal'],
        params: partitionParams,
        body: Type.Object({
          epoch: Type.Integer({ minimum: 1 }),
          owner: Type.String(),
          changes: CHANGES_SCHEMA,
        }),
      },
    },
    async (request) => {
      const { id } = request.params as { id: number };
      const body = request.body as { epoch: number; owner: string; changes: Change[] };
      const result = await options.receiver.learn(id, body, body.changes);
      metrics.keysFed.inc(body.changes.length);
      return result;
    },
  );
  app.get(
    '/internal/scan',
    {
      schema: {
        tags: ['internal'],
        querystring: Type.Object({
          partitions: Type.String({ pattern: '^\\d+(,\\d+)*$' }),
          start: Type.String(),
          end: Type.Optional(Type.String()),
          limit: Type.Integer({ minimum: 1, maximum: SCAN_LIMIT_MAX + 1 }),
        }),
      },
    },
    async (request) => {
      const q = request.query as { partitions: string; start: string; end?: string; limit: number };
      return node.scanLocal(q.partitions.split(',').map(Number), q.start, q.end ?? null, q.limit);
    },
  );
}

/** A stored key as clients name it: `{key}`, or `{key, sort}` for a compound key. */
function keyFields(key: string): { key: string; sort?: string } {
  const parts = splitCompoundKey(key);
  return parts ? { key: parts.partitionKey, sort: parts.sortKey } : { key };
}
