// The orders' HTTP API: commands in, views out (CQRS: the write side appends events, the read
// side answers from the views the stream processors maintain — which may lag the write by a
// moment; the command's answer carries the version to expect next).
//   POST /orders/:orderId/commands  {kind, ...fields, expectedVersion?, at?} -> 201 {events}
//   GET  /orders/:orderId           the order-status view (404 until the view has it)
//   GET  /revenue                   revenue per currency per hour (the v2 consumer's view)
// Errors are problem+json: 400 malformed, 409 expected-version conflict, 422 refused command.
import { type BaseConfig, createService, DdiaError, type Service } from '@ddia/common';
import { Type } from 'typebox';
import type { OrderCommand, OrderState } from '../core/orders.js';
import { StreamingErrors } from '../errors.js';
import type { StreamApp } from '../streams/runner.js';
import { CommandRejectedError, type OrderEventStore, VersionConflictError } from './event-store.js';

const ID_BYTES_MAX = 64;
const TEXT_BYTES_MAX = 256;

const OrderParams = Type.Object({
  orderId: Type.String({ minLength: 1, maxLength: ID_BYTES_MAX, pattern: '^[A-Za-z0-9._-]+$' }),
});
const CommandBody = Type.Object(
  {
    kind: Type.Union([
      Type.Literal('place'),
      Type.Literal('addItem'),
      Type.Literal('pay'),
      Type.Literal('ship'),
      Type.Literal('cancel'),
    ]),
    customer: Type.Optional(Type.String({ minLength: 1, maxLength: TEXT_BYTES_MAX })),
    sku: Type.Optional(Type.String({ minLength: 1, maxLength: TEXT_BYTES_MAX })),
    quantity: Type.Optional(Type.Integer()),
    priceCents: Type.Optional(Type.Integer()),
    currency: Type.Optional(Type.String({ pattern: '^[A-Z]{3}$' })),
    reason: Type.Optional(Type.String({ maxLength: TEXT_BYTES_MAX })),
    expectedVersion: Type.Optional(Type.Integer({ minimum: 0 })),
    /** Event time (ms); the server's clock when absent. */
    at: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);

type Body = {
  kind: OrderCommand['kind'];
  customer?: string;
  sku?: string;
  quantity?: number;
  priceCents?: number;
  currency?: string;
  reason?: string;
  expectedVersion?: number;
  at?: number;
};

function need<T>(body: Body, field: keyof Body): T {
  const value = body[field];
  if (value === undefined)
    throw new DdiaError(StreamingErrors.badCommand, `'${body.kind}' needs the field '${field}'`);
  return value as T;
}

function toCommand(body: Body): OrderCommand {
  switch (body.kind) {
    case 'place':
      return { kind: 'place', customer: need(body, 'customer') };
    case 'addItem':
      return {
        kind: 'addItem',
        sku: need(body, 'sku'),
        quantity: need(body, 'quantity'),
        priceCents: need(body, 'priceCents'),
      };
    case 'pay':
      return body.currency === undefined ? { kind: 'pay' } : { kind: 'pay', currency: body.currency };
    case 'ship':
      return { kind: 'ship' };
    case 'cancel':
      return { kind: 'cancel', reason: need(body, 'reason') };
  }
}

export interface OrdersServiceOptions {
  config: Pick<BaseConfig, 'host' | 'port' | 'logLevel' | 'id'>;
  store: OrderEventStore;
  statusView: StreamApp;
  revenue: () => Record<string, number>;
  handleSignals?: boolean;
}

export async function createOrdersService(options: OrdersServiceOptions): Promise<Service> {
  const service = await createService({
    name: 'orders',
    description: 'Chapter 11: an event-sourced order system (commands -> events -> views)',
    config: options.config,
    handleSignals: options.handleSignals,
  });
  const { app } = service;
  app.post(
    '/orders/:orderId/commands',
    { schema: { params: OrderParams, body: CommandBody } },
    async (request, reply) => {
      const { orderId } = request.params as { orderId: string };
      const body = request.body as Body;
      try {
        const events = await options.store.execute(orderId, toCommand(body), {
          at: body.at ?? Date.now(),
          ...(body.expectedVersion === undefined ? {} : { expectedVersion: body.expectedVersion }),
        });
        reply.status(201);
        return {
          orderId,
          version: events.at(-1)!.version,
          events: events.map((e) => ({ version: e.version, type: e.type })),
        };
      } catch (error) {
        if (error instanceof VersionConflictError)
          throw new DdiaError(StreamingErrors.versionConflict, error.message, {
            expectedVersion: error.expectedVersion,
            actualVersion: error.actualVersion,
          });
        if (error instanceof CommandRejectedError)
          throw new DdiaError(StreamingErrors.commandRejected, error.message);
        throw error;
      }
    },
  );
  app.get('/orders/:orderId', { schema: { params: OrderParams } }, async (request) => {
    const { orderId } = request.params as { orderId: string };
    const order = options.statusView.get<OrderState>('order-status', orderId);
    if (!order)
      throw new DdiaError(StreamingErrors.unknownOrder, `the order-status view has no order '${orderId}'`);
    return order;
  });
  app.get('/revenue', async () => options.revenue());
  return service;
}
