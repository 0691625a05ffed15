// A partition in its handoff holds requests instead of refusing them (http/forwarding.ts): a
// request for a frozen partition, from a client or marked as forwarded by a partition-aware
// client, waits at the owner until the flip and is then forwarded once to the new owner; an
// abort serves it where it is. Two real HTTP servers; the configuration is applied straight to
// a ConfigMachine (no Raft), so the test chooses when the freeze and the flip land.
import { DdiaError, HttpClient } from '@ddia/common';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigMachine, encodeConfigCommand } from '../src/controller/config-machine.js';
import type { ConfigCommand } from '../src/core/index.js';
import { PartErrors } from '../src/errors.js';
import { FORWARDED_HEADER, routeRequest, SENT } from '../src/http/forwarding.js';

/** How long the test keeps the partition frozen before it flips or aborts. */
const FROZEN_MS = 300;

function problemHandler(app: FastifyInstance): void {
  app.setErrorHandler((error, _request, reply) => {
    if (!(error instanceof DdiaError)) return reply.status(500).send({ detail: String(error) });
    return reply.status(error.status).type('application/problem+json').send(error.toProblem());
  });
}

describe('a frozen partition holds requests until its handoff ends', () => {
  const machine = new ConfigMachine();
  const client = new HttpClient({ deadlineMs: 5_000, retries: 0 });
  const owner = Fastify();
  const next = Fastify();
  let ownerUrl = '';
  let nextUrl = '';
  let moving = -1;
  const apply = (command: ConfigCommand) => {
    const result = machine.apply(encodeConfigCommand(command));
    if (!result.ok) throw new Error(`${command.op}: ${result.detail}`);
  };
  const partition = () => machine.config?.partitions.find((p) => p.id === moving);

  beforeAll(async () => {
    for (const app of [owner, next])
      app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_r, body, done) =>
        done(null, body),
      );
    // n1 owns both partitions; n2 joins and one of them is headed to it.
    apply({ op: 'bootstrap', scheme: 'hash', partitions: 2, nodes: [{ id: 'n1', url: 'http://n1' }] });
    apply({ op: 'join', id: 'n2', url: 'http://n2' });
    moving = machine.config?.partitions.find((p) => p.target === 'n2')?.id ?? -1;
    // The old owner: serves the partition while it owns it and it is not frozen; after the flip
    // forwards (when it may) to the new owner, or answers 421.
    problemHandler(owner);
    owner.put('/kv/:key', (request, reply) =>
      routeRequest(
        { client, machine, selfId: 'n1', requestTimeoutMs: 5_000 },
        request,
        reply,
        true,
        async (mayForward) => {
          const p = partition();
          if (p?.owner === 'n1') {
            if (p.frozen) throw new DdiaError(PartErrors.moving, `partition ${p.id} is frozen`);
            void reply.send({ servedBy: 'n1', epoch: machine.config?.epoch });
            return SENT;
          }
          if (!mayForward) throw new DdiaError(PartErrors.wrongOwner, 'owned by n2', { ownerUrl: nextUrl });
          return { forwardTo: nextUrl };
        },
      ),
    );
    next.put('/kv/:key', async (request) => ({
      servedBy: 'n2',
      forwardedBy: request.headers[FORWARDED_HEADER],
    }));
    ownerUrl = await owner.listen({ port: 0, host: '127.0.0.1' });
    nextUrl = await next.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await client.close();
    await owner.close();
    await next.close();
  });

  const put = (headers: Record<string, string> = {}) =>
    client.request(`${ownerUrl}/kv/k`, {
      method: 'PUT',
      body: Buffer.from('v'),
      headers: { 'content-type': 'application/octet-stream', ...headers },
      retry: false,
    });

  /** Freezes the moving partition, sends `count` requests, and after FROZEN_MS applies `end`. */
  async function held(end: ConfigCommand, headers: Record<string, string>[]) {
    apply({ op: 'freeze', partition: moving, to: 'n2' });
    const started = performance.now();
    const answers = Promise.all(headers.map((h) => put(h)));
    await new Promise((resolve) => setTimeout(resolve, FROZEN_MS));
    apply(end);
    const responses = await answers;
    return { responses, elapsedMs: performance.now() - started };
  }

  it('an aborted handoff serves the held requests where they are', async () => {
    expect(moving).toBeGreaterThanOrEqual(0);
    expect((await put()).json()).toMatchObject({ servedBy: 'n1' });
    const { responses, elapsedMs } = await held({ op: 'abort', partition: moving }, [
      { [FORWARDED_HEADER]: 'client' },
      {},
    ]);
    for (const response of responses) {
      expect(response.status).toBe(200);
      expect(response.json()).toMatchObject({ servedBy: 'n1' });
    }
    expect(elapsedMs).toBeGreaterThanOrEqual(FROZEN_MS - 5);
  });

  it('after the flip the held requests are forwarded once to the new owner', async () => {
    // A partition-aware client's request (marked forwarded) and a plain one, both in the window.
    const { responses, elapsedMs } = await held({ op: 'finish', partition: moving, to: 'n2' }, [
      { [FORWARDED_HEADER]: 'client' },
      {},
    ]);
    for (const response of responses) {
      // Not a 503 the client must retry: one answer, from the new owner, forwarded by the old.
      expect(response.status).toBe(200);
      expect(response.json()).toEqual({ servedBy: 'n2', forwardedBy: 'n1' });
    }
    expect(elapsedMs).toBeGreaterThanOrEqual(FROZEN_MS - 5);

    // A request marked forwarded that was not held here is not forwarded again: a 421 naming
    // the owner, which the partition-aware client goes to at once.
    const stale = await put({ [FORWARDED_HEADER]: 'client' });
    expect(stale.status).toBe(421);
    expect(stale.json()).toMatchObject({ code: PartErrors.wrongOwner.code, ownerUrl: nextUrl });
  });
});
