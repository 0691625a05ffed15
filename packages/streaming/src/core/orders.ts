// The event-sourced order system's domain (DDIA ch. 11 "Event Sourcing"): the state of an
// order is never stored, only the immutable events that happened to it; the state is a fold
// of its events (`evolve`), and a command is checked against that state (`decide`) to produce
// new events. Pure: the event store (src/orders/event-store.ts) appends them with an
// expected-version check, the views (src/orders/views.ts) fold them in a stream processor.

export const ORDER_EVENT_TYPES = [
  'OrderPlaced',
  'ItemAdded',
  'OrderPaid',
  'OrderShipped',
  'OrderCancelled',
] as const;
export type OrderEventType = (typeof ORDER_EVENT_TYPES)[number];

/**
 * One event, as the Avro schema v2 (src/orders/schemas.ts) describes it. Fields that an event
 * type does not use are null. `version` numbers an order's events from 1 without gaps.
 */
export interface OrderEvent {
  orderId: string;
  version: number;
  type: OrderEventType;
  /** Event time, ms since the epoch: when it happened, not when it was processed. */
  at: number;
  customer: string | null;
  sku: string | null;
  quantity: number | null;
  priceCents: number | null;
  amountCents: number | null;
  reason: string | null;
  /** Added in schema v2 with the default 'EUR'; a v1 reader never sees it. */
  currency?: string;
}

export type OrderStatus = 'none' | 'placed' | 'paid' | 'shipped' | 'cancelled';

export interface OrderState {
  orderId: string;
  status: OrderStatus;
  /** Number of events so far: the version the next append expects. */
  version: number;
  customer: string | null;
  items: number;
  totalCents: number;
}

export function emptyOrder(orderId: string): OrderState {
  return { orderId, status: 'none', version: 0, customer: null, items: 0, totalCents: 0 };
}

/** Folds one event into the state (also the order-status view's aggregator). */
export function evolve(state: OrderState, event: OrderEvent): OrderState {
  const next = { ...state, version: event.version };
  switch (event.type) {
    case 'OrderPlaced':
      return { ...next, status: 'placed', customer: event.customer };
    case 'ItemAdded':
      return {
        ...next,
        items: state.items + (event.quantity ?? 0),
        totalCents: state.totalCents + (event.quantity ?? 0) * (event.priceCents ?? 0),
      };
    case 'OrderPaid':
      return { ...next, status: 'paid' };
    case 'OrderShipped':
      return { ...next, status: 'shipped' };
    case 'OrderCancelled':
      return { ...next, status: 'cancelled' };
  }
}

export type OrderCommand =
  | { kind: 'place'; customer: string }
  | { kind: 'addItem'; sku: string; quantity: number; priceCents: number }
  | { kind: 'pay'; currency?: string }
  | { kind: 'ship' }
  | { kind: 'cancel'; reason: string };

/** A command refused by the order's current state (a 409/422 at an API, not a crash). */
export interface CommandRejection {
  rejected: string;
}

const ITEM_QUANTITY_MAX = 1000;

function base(state: OrderState, type: OrderEventType, at: number): OrderEvent {
  return {
    orderId: state.orderId,
    version: state.version + 1,
    type,
    at,
    customer: null,
    sku: null,
    quantity: null,
    priceCents: null,
    amountCents: null,
    reason: null,
  };
}

/** Checks a command against the state: the events it causes, or why it is refused. */
export function decide(
  state: OrderState,
  command: OrderCommand,
  at: number,
): OrderEvent[] | CommandRejection {
  const refuse = (why: string): CommandRejection => ({ rejected: `${command.kind}: ${why}` });
  switch (command.kind) {
    case 'place':
      if (state.status !== 'none') return refuse('the order exists already');
      if (command.customer.length === 0) return refuse('a customer is required');
      return [{ ...base(state, 'OrderPlaced', at), customer: command.customer }];
    case 'addItem':
      if (state.status !== 'placed') return refuse(`the order is ${state.status}`);
      if (
        !Number.isSafeInteger(command.quantity) ||
        command.quantity < 1 ||
        command.quantity > ITEM_QUANTITY_MAX
      )
        return refuse(`quantity must be 1..${ITEM_QUANTITY_MAX}`);
      if (!Number.isSafeInteger(command.priceCents) || command.priceCents < 0)
        return refuse('price must be a whole number of cents >= 0');
      return [
        {
          ...base(state, 'ItemAdded', at),
          sku: command.sku,
          quantity: command.quantity,
          priceCents: command.priceCents,
        },
      ];
    case 'pay':
      if (state.status !== 'placed') return refuse(`the order is ${state.status}`);
      if (state.items === 0) return refuse('the order is empty');
      return [
        {
          ...base(state, 'OrderPaid', at),
          amountCents: state.totalCents,
          ...(command.currency === undefined ? {} : { currency: command.currency }),
        },
      ];
    case 'ship':
      if (state.status !== 'paid') return refuse(`the order is ${state.status}`);
      return [base(state, 'OrderShipped', at)];
    case 'cancel':
      if (state.status !== 'placed' && state.status !== 'paid') return refuse(`the order is ${state.status}`);
      return [{ ...base(state, 'OrderCancelled', at), reason: command.reason }];
  }
}

export function isRejection(x: OrderEvent[] | CommandRejection): x is CommandRejection {
  return !Array.isArray(x);
}
