// HTTP routes only: validate, turn requests into commands or reads, route them to the leader,
// map results and errors to HTTP. The state machine is in store/, leader routing in cluster/.

import { isUtf8 } from 'node:buffer';
import {
  CommonErrors,
  DdiaError,
  type HttpClient,
  HttpTimeoutError,
  HttpUnavailableError,
  type Service,
  withRawBodies,
} from '@ddia/common';
import type {} from '@fastify/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { ConsensusNode, ConsensusStatus } from './cluster/consensus.js';
import { LeaderView } from './cluster/leader-view.js';
import { RETRY, readBarrier, routeToLeader } from './cluster/router.js';
import { KvErrors } from './errors.js';
import { parseCondition, parseKey, parseSession } from './http/request-parts.js';
import type { KvMetrics } from './metrics.js';
import { type Command, encodeCommand } from './store/command.js';
import type { ApplyOutcome, WriteResult } from './store/result.js';
import { type KvStateMachine, RANGE_LIMIT_MAX } from './store/state-machine.js';

export const RANGE_LIMIT_DEFAULT = 1_000;
/** Membership changes wait for a new member to catch up; they get a longer deadline. */
export const ADMIN_TIMEOUT_MS = 60_000;
/** GET /cluster asks every member for its own status, briefly. */
export const MEMBER_STATUS_TIMEOUT_MS = 500;
/** Marks a request a follower forwarded, so that it is forwarded at most once. */
export const FORWARDED_HEADER = 'x-kv-forwarded-by';
/** The forwarding node's remaining deadline, so the leader does not outlive the client. */
export const DEADLINE_HEADER = 'x-kv-deadline-ms';
const RELAYED_HEADERS = [
  'content-type',
  'etag',
  'x-revision',
  'x-request-duplicate',
  'x-raft-term',
  'x-raft-leader',
];

export interface KvServerOptions {
  service: Service;
  /** The Raft node; a getter because the node starts after the routes are mounted. */
  node: () => ConsensusNode;
  machine: KvStateMachine;
  client: HttpClient;
  metrics: KvMetrics;
  keyBytesMax: number;
  valueBytesMax: number;
  requestTimeoutMs: number;
  /** This node's view of its peers' URLs (from --peers); used before Raft's member URLs. */
  peerUrls: ReadonlyMap<string, string>;
}

const Consistency = Type.Union([Type.Literal('linearizable'), Type.Literal('serializable')], {
  default: 'linearizable',
  description: 'linearizable (ReadIndex through the leader) or serializable (this replica, maybe stale)',
});

export function registerKvRoutes(options: KvServerOptions): void {
  const { service, machine, metrics } = options;
  const app = service.app;
  const node = () => options.node();
  const urlOf = (id: string) => options.peerUrls.get(id);

  const view = new LeaderView(node);

  // Every response says who leads in which term, from a cached view (leader-view.ts): building
  // Raft's full status per response cost more than the headers are worth.
  app.addHook('onSend', async (_request, reply, payload) => {
    const current = view.current();
    if (current) {
      if (!reply.hasHeader('x-raft-term')) reply.header('x-raft-term', String(current.term));
      if (!reply.hasHeader('x-raft-leader')) reply.header('x-raft-leader', current.leaderId ?? '');
    }
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url;
    if (!route || !(route.startsWith('/kv') || route.startsWith('/cluster') || route.startsWith('/admin')))
      return;
    const consistency =
      (request.query as { consistency?: string } | undefined)?.consistency ?? 'linearizable';
    metrics.latency.observe(
      {
        route,
        method: request.method,
        consistency: request.method === 'GET' ? consistency : 'write',
        status_code: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
  });

  const deadlineOf = (request: FastifyRequest): number => {
    const forwarded = request.headers[DEADLINE_HEADER];
    const fromHeader = typeof forwarded === 'string' ? Number(forwarded) : Number.NaN;
    const budgetMs =
      Number.isFinite(fromHeader) && fromHeader > 0
        ? Math.min(fromHeader, options.requestTimeoutMs)
        : options.requestTimeoutMs;
    return performance.now() + budgetMs;
  };

  /** Sends the same request to the leader and relays its answer; RETRY if it was not the leader. */
  const forwarder =
    (request: FastifyRequest, reply: FastifyReply, mutates: boolean) =>
    async (leaderUrl: string, remainingMs: number): Promise<FastifyReply | typeof RETRY> => {
      metrics.forwarded.inc({ route: request.routeOptions.url ?? 'unknown' });
      const headers: Record<string, string> = {
        [FORWARDED_HEADER]: view.current()?.id ?? 'unknown',
        [DEADLINE_HEADER]: String(Math.floor(remainingMs)),
      };
      for (const name of ['content-type', 'if-match', 'if-none-match', 'x-client-id', 'x-request-seq']) {
        const value = request.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      const body = request.body;
      let response: Awaited<ReturnType<HttpClient['request']>>;
      try {
        response = await options.client.request(`${leaderUrl}${request.url}`, {
          method: request.method as 'PUT',
          headers,
          ...(Buffer.isBuffer(body)
            ? { body }
            : body !== undefined && body !== null
              ? { body: body as object }
              : {}),
          deadlineMs: remainingMs,
          retry: false,
          trace: request.trace,
        });
      } catch (error) {
        if (isConnectionRefused(error) || !mutates) return RETRY;
        if (error instanceof HttpTimeoutError || error instanceof HttpUnavailableError) {
          throw new DdiaError(KvErrors.outcomeUnknown, `forwarding to the leader failed: ${error.message}`);
        }
        throw error;
      }
      if (response.status === 503 && problemCode(response.body) === KvErrors.notLeader.code) return RETRY;
      for (const name of RELAYED_HEADERS) {
        const value = response.headers[name];
        if (typeof value === 'string') reply.header(name, value);
      }
      return reply.status(response.status).send(response.body);
    };

  /** The leader's own path for a write, direct or forwarded: propose and wait for the outcome. */
  const proposeLocally = async (bytes: Uint8Array, op: Command['op'], timeoutMs: number) => {
    try {
      const proposal = await node().propose(bytes, { timeoutMs });
      metrics.proposals.inc({ op, outcome: 'committed' });
      return proposal.result as ApplyOutcome;
    } catch (error) {
      metrics.proposals.inc({ op, outcome: (error as Error).name ?? 'error' });
      throw error;
    }
  };

  // Any node proposes a write: on a follower, Raft itself carries it to the leader inside a
  // message (etcd's MsgProp, packages/raft Raft.forwardProposal), and the follower answers once
  // it applies the entry. No request per write between nodes, and every node computes the
  // same outcome from the log, so the follower's answer is the leader's.
  const write = async (request: FastifyRequest, reply: FastifyReply, command: Command) => {
    const bytes = encodeCommand(command);
    const key = keyText(command.key);
    return routeToLeader<FastifyReply>({
      node: node(),
      deadlineAt: deadlineOf(request),
      mutates: true,
      proposeOnFollowers: true,
      urlOf,
      forward: null,
      local: async (timeoutMs) =>
        sendWriteResult(reply, key, await proposeLocally(bytes, command.op, timeoutMs)),
    });
  };

  // Client API: one scope receiving raw bytes, so values are stored exactly as sent.
  app.register(async (scope) => {
    withRawBodies(scope);

    scope.put(
      '/kv/*',
      {
        bodyLimit: options.valueBytesMax,
        schema: {
          tags: ['kv'],
          summary:
            'Write a value (body = raw bytes). If-Match: "<version>" = CAS, If-None-Match: * = create only',
          headers: Type.Object({
            'if-match': Type.Optional(Type.String()),
            'if-none-match': Type.Optional(Type.String()),
            'x-client-id': Type.Optional(Type.String()),
            'x-request-seq': Type.Optional(Type.String()),
          }),
        },
      },
      async (request, reply) => {
        const key = parseKey((request.params as { '*': string })['*'], options.keyBytesMax);
        const value =
          request.body === undefined || request.body === null ? Buffer.alloc(0) : (request.body as Buffer);
        if (!Buffer.isBuffer(value))
          throw new DdiaError(CommonErrors.badRequest, 'the body must be raw bytes');
        if (value.length > options.valueBytesMax) {
          throw new DdiaError(
            KvErrors.valueTooLarge,
            `the value is ${value.length} bytes; the limit is ${options.valueBytesMax}`,
            {
              valueBytesMax: options.valueBytesMax,
            },
          );
        }
        const condition = parseCondition(request.headers, true);
        const session = parseSession(request.headers);
        return write(request, reply, { op: 'put', key, value, condition, ...(session ? { session } : {}) });
      },
    );

    scope.delete(
      '/kv/*',
      {
        schema: {
          tags: ['kv'],
          summary: 'Delete a key. If-Match: "<version>" deletes only that version',
        },
      },
      async (request, reply) => {
        const key = parseKey((request.params as { '*': string })['*'], options.keyBytesMax);
        const condition = parseCondition(request.headers, false);
        const session = parseSession(request.headers);
        return write(request, reply, { op: 'delete', key, condition, ...(session ? { session } : {}) });
      },
    );

    scope.get(
      '/kv/*',
      {
        schema: {
          tags: ['kv'],
          summary: 'Read a value (raw bytes) with its ETag and the store revision',
          querystring: Type.Object({ consistency: Consistency }),
        },
      },
      async (request, reply) => {
        const key = parseKey((request.params as { '*': string })['*'], options.keyBytesMax);
        const { consistency } = request.query as { consistency: 'linearizable' | 'serializable' };
        if (consistency === 'linearizable') await readBarrier(node(), deadlineOf(request));
        const revision = machine.revision;
        const entry = await machine.get(key);
        reply.header('x-revision', String(revision));
        if (!entry) throw new DdiaError(KvErrors.keyNotFound, `no key ${JSON.stringify(keyText(key))}`);
        return reply
          .header('etag', `"${entry.modRevision}"`)
          .header('x-create-revision', String(entry.createRevision))
          .type('application/octet-stream')
          .send(Buffer.from(entry.value.buffer, entry.value.byteOffset, entry.value.byteLength));
      },
    );

    scope.get(
      '/kv',
      {
        schema: {
          tags: ['kv'],
          summary: 'List keys in byte order: prefix, start (inclusive), end (exclusive), limit',
          querystring: Type.Object({
            prefix: Type.Optional(Type.String()),
            start: Type.Optional(Type.String()),
            end: Type.Optional(Type.String()),
            limit: Type.Integer({ minimum: 1, maximum: RANGE_LIMIT_MAX, default: RANGE_LIMIT_DEFAULT }),
            consistency: Consistency,
          }),
        },
      },
      async (request, reply) => {
        const q = request.query as {
          prefix?: string;
          start?: string;
          end?: string;
          limit: number;
          consistency: 'linearizable' | 'serializable';
        };
        const bound = (text: string | undefined, what: string) =>
          text === undefined || text === '' ? undefined : parseKey(text, options.keyBytesMax, what);
        const query = {
          limit: q.limit,
          ...(bound(q.prefix, 'prefix') ? { prefix: bound(q.prefix, 'prefix') } : {}),
          ...(bound(q.start, 'start') ? { start: bound(q.start, 'start') } : {}),
          ...(bound(q.end, 'end') ? { end: bound(q.end, 'end') } : {}),
        };
        if (q.consistency === 'linearizable') await readBarrier(node(), deadlineOf(request));
        const revision = machine.revision;
        const { entries, more } = await machine.range(query);
        reply.header('x-revision', String(revision));
        return {
          revision,
          count: entries.length,
          more,
          items: entries.map((e) => {
            const value = Buffer.from(e.value.buffer, e.value.byteOffset, e.value.byteLength);
            const utf8 = isUtf8(value);
            return {
              key: keyText(e.key),
              value: utf8 ? value.toString('utf8') : value.toString('base64'),
              encoding: utf8 ? 'utf8' : 'base64',
              version: e.modRevision,
              createRevision: e.createRevision,
            };
          }),
        };
      },
    );
  });

  // Admin API (JSON).
  app.get(
    '/cluster',
    { schema: { tags: ['admin'], summary: 'Members, leader, term, commit/applied index and lag per node' } },
    async (request) => {
      const local = node().status();
      const views = await Promise.all(
        local.members.map(async (member) => {
          if (member.id === local.id) return { member, status: local as ConsensusStatus | null, error: null };
          const url = urlOf(member.id) ?? member.url;
          if (!url) return { member, status: null, error: 'no url known' };
          try {
            const status = await options.client.json<ConsensusStatus>(`${url}/cluster/node`, {
              deadlineMs: MEMBER_STATUS_TIMEOUT_MS,
              retry: false,
              trace: request.trace,
            });
            return { member, status, error: null };
          } catch (error) {
            return { member, status: null, error: (error as Error).message };
          }
        }),
      );
      const leaderView = views.find((v) => v.status?.role === 'leader')?.status ?? null;
      return {
        node: local.id,
        leader: leaderView?.id ?? local.leaderId,
        term: leaderView?.term ?? local.term,
        commitIndex: leaderView?.commitIndex ?? local.commitIndex,
        revision: machine.revision,
        members: views.map(({ member, status, error }) => ({
          id: member.id,
          url: member.url ?? null,
          voter: member.voter,
          reachable: status !== null,
          ...(error ? { error } : {}),
          role: status?.role ?? null,
          term: status?.term ?? null,
          commitIndex: status?.commitIndex ?? null,
          appliedIndex: status?.appliedIndex ?? null,
          matchIndex:
            leaderView?.progress[member.id]?.matchIndex ??
            (member.id === leaderView?.id ? leaderView.lastIndex : null),
          // How far this member's state machine trails the leader's commit index.
          lagEntries: leaderView && status ? Math.max(0, leaderView.commitIndex - status.appliedIndex) : null,
        })),
      };
    },
  );

  app.get(
    '/cluster/node',
    { schema: { tags: ['admin'], summary: 'This node’s own Raft status' } },
    async () => node().status(),
  );

  const leaderOnly = <T>(
    request: FastifyRequest,
    reply: FastifyReply,
    action: (timeoutMs: number) => Promise<T>,
  ) =>
    routeToLeader<T | FastifyReply>({
      node: node(),
      deadlineAt: performance.now() + ADMIN_TIMEOUT_MS,
      mutates: true,
      urlOf,
      forward: request.headers[FORWARDED_HEADER] !== undefined ? null : forwarder(request, reply, true),
      local: action,
    });

  app.post(
    '/cluster/members',
    {
      schema: {
        tags: ['admin'],
        summary: 'Add (as learner, then voter once caught up) or remove one member',
        body: Type.Object({
          action: Type.Union([Type.Literal('add'), Type.Literal('remove')]),
          id: Type.String({ pattern: '^[A-Za-z0-9_.-]+$', maxLength: 64 }),
          url: Type.Optional(Type.String({ pattern: '^https?://', maxLength: 512 })),
        }),
      },
    },
    async (request, reply) => {
      const body = request.body as { action: 'add' | 'remove'; id: string; url?: string };
      const members = node().status().members;
      if (body.action === 'add') {
        if (!body.url) throw new DdiaError(CommonErrors.validation, 'adding a member needs its url');
        if (members.some((m) => m.id === body.id && m.voter))
          throw new DdiaError(CommonErrors.conflict, `${body.id} is already a voting member`);
      } else if (!members.some((m) => m.id === body.id)) {
        throw new DdiaError(KvErrors.unknownMember, `${body.id} is not a member`);
      }
      const result = await leaderOnly(request, reply, async (timeoutMs) => {
        if (body.action === 'add')
          await node().addMember({ id: body.id, url: body.url as string }, { timeoutMs });
        else await node().removeMember(body.id, { timeoutMs });
        return { action: body.action, id: body.id, members: node().status().members };
      });
      return result;
    },
  );

  app.post(
    '/cluster/transfer-leader',
    {
      schema: {
        tags: ['admin'],
        summary: 'Hand leadership to a member (or the most up-to-date follower)',
        body: Type.Optional(Type.Object({ to: Type.Optional(Type.String({ maxLength: 64 })) })),
      },
    },
    async (request, reply) => {
      const to = (request.body as { to?: string } | undefined)?.to;
      if (
        to !== undefined &&
        !node()
          .status()
          .members.some((m) => m.id === to && m.voter)
      ) {
        throw new DdiaError(KvErrors.unknownMember, `${to} is not a voting member`);
      }
      return leaderOnly(request, reply, async (timeoutMs) => {
        const from = node().status().id;
        await node().transferLeadership(to, { timeoutMs: Math.min(timeoutMs, options.requestTimeoutMs) });
        return { from, leader: node().status().leaderId, term: node().status().term };
      });
    },
  );

  app.post(
    '/admin/snapshot',
    { schema: { tags: ['admin'], summary: 'Snapshot the state machine now and compact the Raft log' } },
    async () => {
      const { index, term } = await node().snapshotNow();
      return { node: node().status().id, index, term, revision: machine.revision };
    },
  );
}

function sendWriteResult(reply: FastifyReply, key: string, outcome: ApplyOutcome): FastifyReply {
  const result: WriteResult = outcome.result;
  if (outcome.duplicate) reply.header('x-request-duplicate', 'true');
  switch (result.status) {
    case 'ok':
      reply.header('x-revision', String(result.revision));
      if (result.op === 'put') {
        reply.header('etag', `"${result.version}"`);
        return reply
          .status(result.created ? 201 : 200)
          .send({ key, version: result.version, revision: result.revision, created: result.created });
      }
      if (!result.deleted)
        throw new DdiaError(KvErrors.keyNotFound, `no key ${JSON.stringify(key)}`, {
          revision: result.revision,
        });
      return reply.status(204).send();
    case 'precondition_failed':
      reply.header('x-revision', String(result.revision));
      if (result.currentVersion !== null) reply.header('etag', `"${result.currentVersion}"`);
      throw new DdiaError(
        KvErrors.preconditionFailed,
        result.currentVersion === null
          ? `${key} does not exist`
          : `${key} is at version ${result.currentVersion}`,
        { currentVersion: result.currentVersion, revision: result.revision },
      );
    case 'stale_request':
      throw new DdiaError(KvErrors.staleRequest, `this client already sent request ${result.lastSeq}`, {
        lastSeq: result.lastSeq,
      });
    case 'replayed':
      throw new DdiaError(KvErrors.outcomeUnknown, 'the entry was re-delivered after a restart');
  }
}

const keyDecoder = new TextDecoder();
function keyText(key: Uint8Array): string {
  return keyDecoder.decode(key);
}

/** Refused before anything was sent: the request certainly did not reach the leader. */
function isConnectionRefused(error: unknown): boolean {
  if (!(error instanceof HttpUnavailableError)) return false;
  const cause = error.cause as { code?: string; message?: string } | undefined;
  return /ECONNREFUSED/.test(String(cause?.code ?? cause?.message));
}

function problemCode(body: Buffer): string | undefined {
  try {
    return (JSON.parse(body.toString('utf8')) as { code?: string }).code;
  } catch {
    return undefined;
  }
}
