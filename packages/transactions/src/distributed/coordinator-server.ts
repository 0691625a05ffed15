// HTTP routes of the 2PC coordinator: transfers between accounts on different shards.
import { CommonErrors, DdiaError, type ServiceApp } from '@ddia/common';
import { Type } from 'typebox';
import { TxError, TxErrors } from '../errors.js';
import { CHAOS_POINTS, type ChaosPoint, type Coordinator } from './coordinator.js';

export interface CoordinatorRouteOptions {
  coordinator: Coordinator;
  /** Participant names in shard order: account id % length picks the shard. */
  shards: string[];
  chaos: boolean;
  arm(point: ChaosPoint): void;
}

const Account = Type.Integer({ minimum: 0, maximum: 1_000_000_000 });

export function registerCoordinatorRoutes(app: ServiceApp, options: CoordinatorRouteOptions): void {
  const { coordinator, shards } = options;
  const shardOf = (account: number) => shards[account % shards.length]!;

  app.post(
    '/transfer',
    {
      schema: {
        body: Type.Object({
          from: Account,
          to: Account,
          amount: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
        }),
      },
    },
    async (request) => {
      const { from, to, amount } = request.body;
      if (from === to) throw new DdiaError(CommonErrors.validation, 'from and to must be different accounts');
      const outcome = await coordinator.run(
        [
          {
            participant: shardOf(from),
            run: async (p, tx, gid) => {
              const n = await p.update(tx, 'accounts', `id = ${from}`, { balance: `balance - ${amount}` });
              if (n !== 1) throw new Error(`no account ${from}`);
              await p.insert(tx, 'ledger', { id: `${gid}/from`, account: from, amount: -amount });
            },
          },
          {
            participant: shardOf(to),
            run: async (p, tx, gid) => {
              const n = await p.update(tx, 'accounts', `id = ${to}`, { balance: `balance + ${amount}` });
              if (n !== 1) throw new Error(`no account ${to}`);
              await p.insert(tx, 'ledger', { id: `${gid}/to`, account: to, amount });
            },
          },
        ],
        request.trace,
      );
      if (!outcome.committed) {
        throw new TxError(TxErrors.transferAborted, `transfer ${outcome.gid} aborted: ${outcome.reason}`, {
          gid: outcome.gid,
        });
      }
      return outcome;
    },
  );

  app.get('/decisions', async () => ({ pending: coordinator.pendingDecisions() }));
  app.post('/recover', async () => ({ resolved: await coordinator.recover() }));
  app.post(
    '/chaos/crash-at',
    { schema: { body: Type.Object({ point: Type.Union(CHAOS_POINTS.map((p) => Type.Literal(p))) }) } },
    async (request) => {
      if (!options.chaos)
        throw new DdiaError(CommonErrors.chaosDisabled, 'start the coordinator with --chaos');
      options.arm(request.body.point);
      return { armed: request.body.point };
    },
  );
}
