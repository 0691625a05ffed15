// The order events' Avro schemas, as registered under the subject `orders-value`
// (Confluent's TopicNameStrategy). v2 adds one field WITH a default: every v1 record can be
// read by v2 (backward: the default fills it in) and every v2 record by v1 (forward: the field
// is skipped), so the registry accepts it under FULL. v3 adds a field WITHOUT a default: a v3
// reader could not read the v1/v2 records already in the log, so the registry refuses it.
import { ORDER_EVENT_TYPES } from '../core/orders.js';

export const ORDERS_SUBJECT = 'orders-value';

const nullable = (name: string, type: string) => ({ name, type: ['null', type], default: null });

export const ORDER_EVENT_V1 = {
  type: 'record',
  name: 'OrderEvent',
  namespace: 'ddia.orders',
  fields: [
    { name: 'orderId', type: 'string' },
    { name: 'version', type: 'int' },
    { name: 'type', type: { type: 'enum', name: 'OrderEventType', symbols: [...ORDER_EVENT_TYPES] } },
    { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
    nullable('customer', 'string'),
    nullable('sku', 'string'),
    nullable('quantity', 'int'),
    nullable('priceCents', 'long'),
    nullable('amountCents', 'long'),
    nullable('reason', 'string'),
  ],
} as const;

export const ORDER_EVENT_V2 = {
  ...ORDER_EVENT_V1,
  fields: [...ORDER_EVENT_V1.fields, { name: 'currency', type: 'string', default: 'EUR' }],
};

export const ORDER_EVENT_V3_INCOMPATIBLE = {
  ...ORDER_EVENT_V2,
  fields: [...ORDER_EVENT_V2.fields, { name: 'warehouse', type: 'string' }],
};
