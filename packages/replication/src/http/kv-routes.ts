// The key-value API, the same in every mode: GET/PUT/DELETE /kv/:key and POST /crdt/:key.
// Validate, build a KvOp, run it on the mode's node, map the result: 200 one value, 300
// Multiple Choices with every sibling (Riak), 404 absent or deleted, problem+json on errors.
// Every answer about a key carries X-Context, the version vector to send back with the next write.
import {
  DdiaError,
  forwardedParts,
  type HttpClient,
  HttpUnavailableError,
  type Service,
  withRawBodies,
} from '@ddia/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { ReplicationErrors } from '../core/errors.js';
import type { KeyView, Mutation } from '../core/key-state.js';
import type { RequestResult } from '../core/ready.js';
import { compareVectors, type VersionVector } from '../core/version-vector.js';
import { parseQuorum } from '../flags.js';
import type { KvOp, ModeNode } from '../node/mode.js';
import { CONTEXT_HEADER, decodeContext, encodeContext } from './context.js';

/**
 * X-Session: the client sends back the X-Context of its last answer and the node answers only
 * from a state at least that new. read-your-writes: send a write's context. monotonic-reads:
 * send the last read's. consistent-prefix (single-leader only): the context is a position in
 * the leader's log, and every replica applies the log in order, so a replica at or past that
 * position shows the whole prefix up to it: a reader that saw a write never then sees a state
 * without the writes before it (DDIA Figure 5-5), whichever replica answers.
 */
export const SESSION_HEADER = 'x-session';
export const SESSION_GUARANTEES = ['read-your-writes', 'monotonic-reads', 'consistent-prefix'] as const;
/** Set on a write a follower forwards to the leader: the leader does not forward it again. */
export const FORWARDED_HEADER = 'x-replication-forwarded-by';
/** Headers a forwarded write carries to the leader, and the answer's headers relayed back. */
const FORWARD_REQUEST_HEADERS = ['content-type', 'x-context', 'x-session'] as const;
const FORWARD_ANSWER_HEADERS = ['content-type', 'x-context', 'x-node', 'x-epoch', 'x-position'] as const;

export interface KvRouteOptions {
  service: Service;
  node: ModeNode;
  resolution: 'mv' | 'lww';
  keyBytesMax: number;
  valueBytesMax: number;
  /** Member URLs: a 421 names where the leader is. */
  urls: ReadonlyMap<string, string>;
  onResult: (op: string, status: number) => void;
  /** Leaderless: N, the replicas of a key (a ?w= or ?r= count above it is refused). */
  replicas?: number;
  /** Single-leader: forward a write a follower receives to the leader (--forward-writes). */
  forward?: { self: string; client: HttpClient };
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

function leaderUrlOf(result: Extract<RequestResult, { ok: false }>, urls: ReadonlyMap<string, string>) {
  const leader = result.extensions?.leader;
  return typeof leader === 'string' ? urls.get(leader) : undefined;
}

function errorOf(
  result: Extract<RequestResult, { ok: false }>,
  urls: ReadonlyMap<string, string>,
): DdiaError {
  const leaderUrl = leaderUrlOf(result, urls);
  const extensions = leaderUrl ? { ...result.extensions, leaderUrl } : result.extensions;
  return new DdiaError(ReplicationErrors[result.error], result.detail, extensions);
}

/** The context a mode hands back: the key's vector, or (single-leader) the log position. */
function contextOf(result: Extract<RequestResult, { ok: true }>): VersionVector {
  const position = result.detail.position;
  if (typeof position === 'number') return { pos: position };
  return result.view?.context ?? {};
}

function session(request: FastifyRequest, singleLeader: boolean): boolean {
  const value = one(request.headers[SESSION_HEADER], 'X-Session');
  if (value === undefined) return false;
  if (!(SESSION_GUARANTEES as readonly string[]).includes(value))
    throw badRequest(`X-Session must be one of ${SESSION_GUARANTEES.join(', ')}`);
  if (value === 'consistent-prefix' && !singleLeader)
    throw badRequest(
      'consistent-prefix needs one order of all writes: single-leader mode (here each key has its own version vector)',
    );
  return true;
}

function quorumParam(query: Record<string, unknown>, name: 'w' | 'r', replicas: number | undefined) {
  const text = one(query[name], name);
  if (text === undefined) return undefined;
  const value = parseQuorum(text);
  if (value === null)
    throw badRequest(`${name} must be a count, one, quorum, all, local_quorum or each_quorum, got '${text}'`);
  // As the --w/--r flags: more acknowledgements than replicas can never be had.
  if (typeof value === 'number' && replicas !== undefined && value > replicas)
    throw badRequest(`${name}=${value} is more than N = ${replicas} replicas`);
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
      // A deleted mv key still holds its tombstones until their grace period ends.
      const tombstones = view?.type === 'mv' ? { tombstones: view.siblings } : {};
      return reply.status(404).send({ key, deleted: view !== null, ...tombstones });
    }
    const status = view.values.length > 1 ? 300 : 200;
    options.onResult(op, status);
    return reply.status(status).send(bodyOfView(key, view));
  };

  const read = async (request: FastifyRequest, key: string, query: Record<string, unknown>) => {
    const context = decodeContext(request.headers[CONTEXT_HEADER]);
    const wantsSession = session(request, isSingleLeader);
    const r = isLeaderless ? quorumParam(query, 'r', options.replicas) : undefined;
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
      const w = isLeaderless ? quorumParam(query, 'w', options.replicas) : undefined;
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
      if (!result.ok && result.error === 'notLeader' && options.forward) {
        const leaderUrl = leaderUrlOf(result, options.urls);
        // One hop only: a forwarded write that lands on another follower (a failover under
        // way) gets the 421 and the client retries.
        if (leaderUrl && request.headers[FORWARDED_HEADER] === undefined)
          return forward(request, reply, op, leaderUrl, options.forward);
      }
      return answer(reply, op, key, result, true);
    };

    const forward = async (
      request: FastifyRequest,
      reply: FastifyReply,
      op: 'put' | 'delete',
      leaderUrl: string,
      via: NonNullable<KvRouteOptions['forward']>,
    ) => {
      const { headers, ...body } = forwardedParts(request, FORWARD_REQUEST_HEADERS);
      headers[FORWARDED_HEADER] = via.self;
      let answered: Awaited<ReturnType<HttpClient['request']>>;
      try {
        answered = await via.client.request(`${leaderUrl}${request.url}`, {
          method: op === 'put' ? 'PUT' : 'DELETE',
          headers,
          ...body,
          retry: false,
          trace: request.trace,
        });
      } catch (error) {
        const detail = error instanceof HttpUnavailableError ? 'unreachable' : (error as Error).message;
        const failure = new DdiaError(
          ReplicationErrors.quorumNotReached,
          `forwarding to the leader at ${leaderUrl} failed: ${detail}`,
          { leaderUrl },
        );
        options.onResult(op, failure.status);
        throw failure;
      }
      options.onResult(op, answered.status);
      for (const name of FORWARD_ANSWER_HEADERS) {
        const value = answered.headers[name];
        if (value !== undefined) reply.header(name, value);
      }
      reply.header('x-forwarded-to', leaderUrl);
      return reply.status(answered.status).send(answered.body);
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
      const w = isLeaderless ? quorumParam(request.query, 'w', options.replicas) : undefined;
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
