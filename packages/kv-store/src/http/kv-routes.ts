// The client API, /kv: reads, writes and range scans of raw bytes. Writes become commands
// proposed through Raft; linearizable reads pass a ReadIndex barrier first.
import { isUtf8 } from 'node:buffer';
import { CommonErrors, DdiaError, withRawBodies } from '@ddia/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { readBarrier, routeToLeader } from '../cluster/router.js';
import { KvErrors } from '../errors.js';
import { type Command, encodeCommand } from '../store/command.js';
import type { ApplyOutcome, WriteResult } from '../store/result.js';
import { RANGE_LIMIT_MAX } from '../store/state-machine.js';
import { deadlineOf, type KvRouteContext, keyText } from './context.js';
import { parseCondition, parseKey, parseSession } from './request-parts.js';

export const RANGE_LIMIT_DEFAULT = 1_000;

const Consistency = Type.Union([Type.Literal('linearizable'), Type.Literal('serializable')], {
  default: 'linearizable',
  description: 'linearizable (ReadIndex through the leader) or serializable (this replica, maybe stale)',
});

/** A fastify plugin: one scope receiving raw bytes, so values are stored exactly as sent. */
export async function kvRoutes(app: FastifyInstance, ctx: KvRouteContext): Promise<void> {
  const { options, node, urlOf } = ctx;
  const { machine, metrics } = options;
  const deadline = (request: FastifyRequest) => deadlineOf(request, options.requestTimeoutMs);

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
      deadlineAt: deadline(request),
      mutates: true,
      proposeOnFollowers: true,
      urlOf,
      forward: null,
      local: async (timeoutMs) =>
        sendWriteResult(reply, key, await proposeLocally(bytes, command.op, timeoutMs)),
    });
  };

  withRawBodies(app);

  app.put(
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
      if (!Buffer.isBuffer(value)) throw new DdiaError(CommonErrors.badRequest, 'the body must be raw bytes');
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

  app.delete(
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

  app.get(
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
      if (consistency === 'linearizable') await readBarrier(node(), deadline(request));
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

  app.get(
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
      if (q.consistency === 'linearizable') await readBarrier(node(), deadline(request));
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
