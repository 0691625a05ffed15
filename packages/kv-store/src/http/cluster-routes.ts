// The cluster and admin API (JSON): membership and status of every member, membership
// changes, leadership transfer, snapshots. Changes run on the leader; a follower forwards
// them (forwarding.ts).
import { CommonErrors, DdiaError } from '@ddia/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { ConsensusStatus } from '../cluster/consensus.js';
import { routeToLeader } from '../cluster/router.js';
import { KvErrors } from '../errors.js';
import type { KvRouteContext } from './context.js';
import { FORWARDED_HEADER, forwarder } from './forwarding.js';

/** Membership changes wait for a new member to catch up; they get a longer deadline. */
export const ADMIN_TIMEOUT_MS = 60_000;
/** GET /cluster asks every member for its own status, briefly. */
export const MEMBER_STATUS_TIMEOUT_MS = 500;

/** A fastify plugin: the routes under /cluster and /admin. */
export async function clusterRoutes(app: FastifyInstance, ctx: KvRouteContext): Promise<void> {
  const { options, node, urlOf } = ctx;
  const { machine } = options;
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
      forward: request.headers[FORWARDED_HEADER] !== undefined ? null : forwarder(ctx, request, reply, true),
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
