// HTTP routes of the register server. One node, the primary, owns the registers; every other
// node forwards each request to it and relays the answer. Correct, that is linearizable: each
// operation takes effect at one instant on the one copy. With `staleCache`, followers answer
// reads from a local cache instead: the broken variant the checker must catch.
import {
  CommonErrors,
  DdiaError,
  HttpClient,
  HttpTimeoutError,
  type ServiceApp,
  type SystemClock,
  type TraceContext,
} from '@ddia/common';
import { Type } from 'typebox';
import type { RegisterStore, RegisterValue } from './register-store.js';
import type { StaleReadCache } from './stale-cache.js';

export const KEY_BYTES_MAX = 256;
/** How long a follower waits for the primary before answering 504 (outcome unknown). */
export const FORWARD_DEADLINE_MS = 2_000;

export const RegisterErrors = {
  casMismatch: {
    code: 'DDIA_ERR_CAS_MISMATCH',
    status: 409,
    title: 'Compare-and-set did not match the current value',
    retriable: false,
  },
  primaryUnreachable: {
    code: 'DDIA_ERR_PRIMARY_UNREACHABLE',
    status: 503,
    title: 'The primary did not answer; the operation may or may not have happened',
    retriable: true,
  },
} as const;

export interface RegisterServerOptions {
  /** Present on the primary only. */
  store: RegisterStore | null;
  /** The primary's URL as this node reaches it (through its proxy in a proxied cluster). */
  primaryUrl: string;
  staleCache: StaleReadCache | null;
  chaos: boolean;
  clock: SystemClock;
}

const Value = Type.Union([Type.Number(), Type.String({ maxLength: 1024 }), Type.Boolean(), Type.Null()]);
const KeyParams = Type.Object({ key: Type.String({ minLength: 1, maxLength: KEY_BYTES_MAX }) });

export function registerRoutes(app: ServiceApp, options: RegisterServerOptions): void {
  const { store, staleCache } = options;
  const forwarder = new HttpClient({ deadlineMs: FORWARD_DEADLINE_MS });

  /** Relays a request to the primary and its answer (status and body) back to the client. */
  async function forward(trace: TraceContext, method: 'GET' | 'PUT' | 'POST', path: string, body?: object) {
    try {
      // Writes are never retried here: a retried write could land after a newer one.
      const response = await forwarder.request(`${options.primaryUrl}${path}`, {
        method,
        body,
        retry: method === 'GET',
        trace,
      });
      return {
        status: response.status,
        contentType: String(response.headers['content-type'] ?? 'application/json'),
        body: response.json<Record<string, unknown>>(),
      };
    } catch (err) {
      const detail = err instanceof HttpTimeoutError ? 'timed out' : (err as Error).message;
      throw new DdiaError(RegisterErrors.primaryUnreachable, `forwarding to the primary: ${detail}`);
    }
  }

  app.get('/register/:key', { schema: { params: KeyParams } }, async (request, reply) => {
    const { key } = request.params;
    if (store) return { key, value: store.get(key) };
    if (staleCache) {
      const cached = staleCache.lookup(key);
      if (cached.hit) return { key, value: cached.value };
    }
    const answer = await forward(request.trace, 'GET', `/register/${encodeURIComponent(key)}`);
    if (answer.status === 200) staleCache?.remember(key, answer.body.value as RegisterValue);
    return reply.status(answer.status).type(answer.contentType).send(answer.body);
  });

  app.put(
    '/register/:key',
    { schema: { params: KeyParams, body: Type.Object({ value: Value }) } },
    async (request, reply) => {
      const { key } = request.params;
      const { value } = request.body;
      if (store) {
        await store.write(key, value);
        return { key, value };
      }
      const answer = await forward(request.trace, 'PUT', `/register/${encodeURIComponent(key)}`, { value });
      if (answer.status === 200) staleCache?.remember(key, value);
      return reply.status(answer.status).type(answer.contentType).send(answer.body);
    },
  );

  app.post(
    '/register/:key/cas',
    {
      schema: {
        params: KeyParams,
        body: Type.Object({ from: Value, to: Value }),
      },
    },
    async (request, reply) => {
      const { key } = request.params;
      const { from, to } = request.body;
      if (store) {
        if (!(await store.cas(key, from, to))) {
          throw new DdiaError(
            RegisterErrors.casMismatch,
            `${key} is ${JSON.stringify(store.get(key))}, not ${JSON.stringify(from)}`,
          );
        }
        return { key, value: to };
      }
      const answer = await forward(request.trace, 'POST', `/register/${encodeURIComponent(key)}/cas`, {
        from,
        to,
      });
      if (answer.status === 200) staleCache?.remember(key, to);
      return reply.status(answer.status).type(answer.contentType).send(answer.body);
    },
  );

  // The clock-skew fault the nemesis injects: shifts this process's clock by skewMs.
  app.post(
    '/chaos/clock',
    { schema: { body: Type.Object({ skewMs: Type.Number({ minimum: -86_400_000, maximum: 86_400_000 }) }) } },
    async (request) => {
      if (!options.chaos) throw new DdiaError(CommonErrors.chaosDisabled, 'start the node with --chaos');
      options.clock.skewMs = request.body.skewMs;
      return { skewMs: options.clock.skewMs };
    },
  );
}
