// The key-value API, the same in every mode: GET/PUT/DELETE /kv/:key and POST /crdt/:key.
// Validate, build a KvOp, run it on the mode's node, map the result: 200 one value, 300
// Multiple Choices with every sibling (Riak), 404 absent or deleted, problem+json on errors.
// Every answer about a key carries X-Context, the version vector to send back with the next write.
import { DdiaError, type Service, withRawBodies } from '@ddia/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { ReplicationErrors } from '../core/errors.js';
import type { KeyView, Mutation } from '../core/key-state.js';
import type { RequestResult } from '../core/ready.js';
import { compareVectors, type VersionVector } from '../core/version-vector.js';
import { parseQuorum } from '../flags.js';
import type { KvOp, ModeNode } from '../node/mode.js';
import { CONTEXT_HEADER, decodeContext, encodeContext } from './context.js';

/** X-Session: read-your-writes (also gives monotonic reads: send the context of your last read). */
export const SESSION_HEADER = 'x-session';
export const SESSION_GUARANTEES = ['read-your-writes', 'monotonic-reads'] as const;

export interface KvRouteOptions {
  service: Service;
  node: ModeNode;
  resolution: 'mv' | 'lww';
  keyBytesMax: number;
  valueBytesMax: number;
  /** Member URLs: a 421 names where the leader is. */
  urls: ReadonlyMap<string, string>;
  onResult: (op: string, status: number) => void;
}

function badRequest(detail: string): DdiaError {
  return new DdiaError(ReplicationErrors.badRequest, detail);
}

function one(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw badRequest(`${name} given more than once`);
  return value;
}

function parseKey(raw: string, keyBytesMax: number): string {
  if (raw.length === 0) throw badRequest('the key is empty');
  const bytes = Buffer.byteLength(raw);
  if (bytes > keyBytesMax) throw badRequest(`the key is ${bytes} bytes; the limit is ${keyBytesMax}`);
  return raw;
}

function errorOf(
  result: Extract<RequestResult, { ok: false }>,
  urls: ReadonlyMap<string, string>,
): DdiaError {
  const leader = result.extensions?.leader;
  const leaderUrl = typeof leader === 'string' ? urls.get(leader) : undefined;
  const extensions = leaderUrl ? { ...result.extensions, leaderUrl } : result.extensions;
  return new DdiaError(ReplicationErrors[result.error], result.detail, extensions);
}

/** The context a mode hands back: the key's vector, or (single-leader) the log position. */
function contextOf(result: Extract<RequestResult, { ok: true }>): VersionVector {
  const position = result.detail.position;
  if (typeof position === 'number') return { pos: position };
  return result.view?.context ?? {};
}

function session(request: FastifyRequest): boolean {
  const value = one(request.headers[SESSION_HEADER], 'X-Session');
  if (value === undefined) return false;
  if (!(SESSION_GUARANTEES as readonly string[]).includes(value))
    throw badRequest(`X-Session must be one of ${SESSION_GUARANTEES.join(', ')}`);
  return true;
}

function quorumParam(query: Record<string, unknown>, name: 'w' | 'r') {
  const text = one(query[name], name);
  if (text === undefined) return undefined;
  const value = parseQuorum(text);
  if (value === null) throw badRequest(`${name} must be a count, one, quorum or all, got '${text}'`);
  return value;
}

function bodyOfView(key: string, view: KeyView): Record<string, unknown> {
  switch (view.type) {
    case 'mv':
    case 'lww':
      return view.values.length === 1
        ? { key, type: view.type, value: view.values[0] }
        : { key, type: view.type, values: view.values };
    case 'counter':
      return { key, type: view.type, value: view.counter };
    case 'set':
      return { key, type: view.type, elements: view.elements };
    case 'map':
      return { key, type: view.type, fields: view.fields };
  }
}

const CrdtBody = Type.Union([
  Type.Object({ op: Type.Literal('increment'), amount: Type.Integer({ minimum: -1e12, maximum: 1e12 }) }),
  Type.Object({
    op: Type.Union([Type.Literal('add'), Type.Literal('remove')]),
    element: Type.String({ maxLength: 4096 }),
  }),
  Type.Object({
    op: Type.Literal('setField'),
    field: Type.String({ maxLength: 1024 }),
    value: Type.String({ maxLength: 65536 }),
  }),
  Type.Object({ op: Type.Literal('removeField'), field: Type.String({ maxLength: 1024 }) }),
]);

export function registerKvRoutes(options: KvRouteOptions): void {
  const { service, node } = options;
  const isLeaderless = node.mode === 'leaderless';
  const isSingleLeader = node.mode === 'single-leader';

  const answer = (reply: FastifyReply, op: string, key: string, result: RequestResult, wrote: boolean) => {
    if (!result.ok) {
      const error = errorOf(result, options.urls);
      options.onResult(op, error.status);
      throw error;
    }
    reply.header(CONTEXT_HEADER, encodeContext(contextOf(result)));
    for (const name of ['node', 'epoch', 'position'] as const) {
      const value = result.detail[name];
      if (value !== undefined) reply.header(`x-${name}`, String(value));
    }
    if (wrote) {
      options.onResult(op, 200);
      return { key, ...result.detail };
    }
    const view = result.view;
    if (
      view === null ||
      (view.deleted && view.values.length === 0 && (view.type === 'mv' || view.type === 'lww'))
    ) {
      options.onResult(op, 404);
      return reply.status(404).send({ key, deleted: view !== null });
    }
    const status = view.values.length > 1 ? 300 : 200;
    options.onResult(op, status);
    return reply.status(status).send(bodyOfView(key, view));
  };

  const read = async (request: FastifyRequest, key: string, query: Record<string, unknown>) => {
    const context = decodeContext(request.headers[CONTEXT_HEADER]);
    const wantsSession = session(request);
    const r = isLeaderless ? quorumParam(query, 'r') : undefined;
    if (!isLeaderless && query.r !== undefined) throw badRequest('r applies to leaderless mode only');
    const minPosition = isSingleLeader && wantsSession ? (context?.pos ?? 0) : undefined;
    const op: KvOp = { kind: 'read', key, ...(r ? { r } : {}), ...(minPosition ? { minPosition } : {}) };
    let result = await node.run(op);
    if (wantsSession && !isSingleLeader && context && result.ok && !sees(result, context)) {
      // Read-your-writes over version vectors: the answer must include what the client saw.
      // Leaderless asks every replica once more; multi-leader has only its own copy.
      if (isLeaderless) result = await node.run({ ...op, r: 'all' });
      if (result.ok && !sees(result, context)) {
        result = {
          ok: false,
          error: 'behind',
          detail: 'no replica asked has the version this session saw yet; retry',
        };
      }
    }
    return result;
  };

  service.app.register(async (scope) => {
    withRawBodies(scope);

    scope.get<{ Params: { key: string }; Querystring: Record<string, unknown> }>(
      '/kv/:key',
      {},
      async (request, reply) => {
        const key = parseKey(request.params.key, options.keyBytesMax);
        return answer(reply, 'get', key, await read(request, key, request.query), false);
      },
    );

    const write = async (
      request: FastifyRequest<{ Params: { key: string }; Querystring: Record<string, unknown> }>,
      reply: FastifyReply,
      op: 'put' | 'delete',
    ) => {
      const key = parseKey(request.params.key, options.keyBytesMax);
      const query = request.query;
      const context = decodeContext(request.headers[CONTEXT_HEADER]);
      const type = one(query.type, 'type') ?? options.resolution;
      if (type !== 'mv' && type !== 'lww') throw badRequest(`type must be mv or lww, got '${type}'`);
      let mutation: Mutation;
      if (op === 'put') {
        const body = request.body;
        if (!Buffer.isBuffer(body) || body.length === 0) throw badRequest('PUT needs a value in the body');
        if (body.length > options.valueBytesMax)
          throw badRequest(`the value is ${body.length} bytes; the limit is ${options.valueBytesMax}`);
        mutation = { op: 'put', value: body.toString('utf8'), context, type };
      } else mutation = { op: 'delete', context, type };
      const w = isLeaderless ? quorumParam(query, 'w') : undefined;
      if (!isLeaderless && query.w !== undefined) throw badRequest('w applies to leaderless mode only');
      const syncText = one(query.sync, 'sync');
      if (syncText !== undefined && (!isSingleLeader || !['true', 'false'].includes(syncText)))
        throw badRequest('sync=true|false applies to single-leader mode only');
      const result = await node.run({
        kind: 'write',
        key,
        mutation,
        ...(w ? { w } : {}),
        ...(syncText !== undefined ? { sync: syncText === 'true' } : {}),
      });
      return answer(reply, op, key, result, true);
    };

    scope.put<{ Params: { key: string }; Querystring: Record<string, unknown> }>(
      '/kv/:key',
      {},
      (request, reply) => write(request, reply, 'put'),
    );
    scope.delete<{ Params: { key: string }; Querystring: Record<string, unknown> }>(
      '/kv/:key',
      {},
      (request, reply) => write(request, reply, 'delete'),
    );
  });

  service.app.post<{ Params: { key: string }; Querystring: Record<string, unknown> }>(
    '/crdt/:key',
    {
      schema: {
        body: CrdtBody,
      },
    },
    async (request, reply) => {
      const key = parseKey(request.params.key, options.keyBytesMax);
      const w = isLeaderless ? quorumParam(request.query, 'w') : undefined;
      const mutation = request.body as Mutation;
      const result = await node.run({ kind: 'write', key, mutation, ...(w ? { w } : {}) });
      return answer(reply, 'crdt', key, result, true);
    },
  );
}

function sees(result: Extract<RequestResult, { ok: true }>, context: VersionVector): boolean {
  const have = result.view?.context ?? {};
  const order = compareVectors(context, have);
  return order === 'before' || order === 'equal';
}
