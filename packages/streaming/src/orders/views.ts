// The orders' materialized views, each a topology of the stream library run by a StreamApp
// (DDIA ch. 11 "Deriving current state from an event log"): the log is the truth, a view is a
// cache of a fold over it that can be dropped and rebuilt by reading the log again.
import { emptyOrder, evolve, type OrderEvent, type OrderState } from '../core/orders.js';
import { StreamBuilder, tumbling } from '../core/streams/index.js';
import { ORDERS_TOPIC } from './event-store.js';

export const HOUR_MS = 3_600_000;
/**
 * Payments may arrive this late (event time) and still count in their hour. Stream time is
 * one per processor, over all the partitions it reads, and partitions are read batch by batch:
 * when one partition is read ahead of another (a restart, a rebuild from offset 0), the other's
 * records look late by up to the skew between them. Grace must cover that skew, not only the
 * producers' delays. (Kafka Streams narrows it by picking, among its partitions' buffered
 * records, the one with the smallest timestamp, and waiting max.task.idle.ms for empty ones.)
 */
export const REVENUE_GRACE_MS = 24 * HOUR_MS;

/** order id -> status, version, items and total (store and topic `order-status`). */
export function orderStatusView(): StreamBuilder {
  const b = new StreamBuilder();
  b.stream<OrderEvent>(ORDERS_TOPIC, { timestamp: (e) => e.at })
    .groupByKey()
    .aggregate<OrderState>(
      'order-status',
      () => emptyOrder(''),
      // An event the view already folded (same or older version) changes nothing.
      (order, event, orderId) =>
        event.version <= order.version ? order : evolve({ ...order, orderId }, event),
    )
    .toStream()
    .to('order-status');
  return b;
}

/**
 * Revenue per currency per event-time hour (store and topic `revenue-per-hour`). Needs the v2
 * schema's `currency`; a v1 event read through the v2 schema has the default, EUR.
 */
export function revenuePerHourView(): StreamBuilder {
  const b = new StreamBuilder();
  b.stream<OrderEvent>(ORDERS_TOPIC, { timestamp: (e) => e.at })
    .filter((e) => e.type === 'OrderPaid')
    .selectKey((e) => e.currency ?? 'EUR')
    .groupByKey()
    .windowedBy(tumbling(HOUR_MS, { graceMs: REVENUE_GRACE_MS }))
    .aggregate(
      'revenue-per-hour',
      () => 0,
      (cents, e) => cents + (e.amountCents ?? 0),
    )
    .to('revenue-per-hour');
  return b;
}
