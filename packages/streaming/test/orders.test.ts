// The event-sourced orders: the pure decide/evolve rules, then the whole demo run against an
// in-process broker and schema registry (Avro in Confluent's wire format, v1 -> v2 evolution
// with the v1 consumer still running, v3 refused, expected-version conflict, rebuild).
import { describe, expect, it } from 'vitest';
import { decide, emptyOrder, evolve, isRejection, type OrderEvent } from '../src/core/orders.js';
import { runOrdersDemo } from '../src/orders/demo.js';

describe('order rules (pure)', () => {
  it('commands become events only when the state allows; the state is the fold of the events', () => {
    let state = emptyOrder('o');
    const apply = (events: ReturnType<typeof decide>) => {
      if (isRejection(events)) throw new Error(events.rejected);
      state = events.reduce(evolve, state);
      return events;
    };
    expect(isRejection(decide(state, { kind: 'pay' }, 1))).toBe(true); // no such order yet
    apply(decide(state, { kind: 'place', customer: 'ann' }, 1));
    expect(decide(state, { kind: 'pay' }, 2)).toEqual({ rejected: 'pay: the order is empty' });
    expect(isRejection(decide(state, { kind: 'addItem', sku: 'x', quantity: 0, priceCents: 1 }, 2))).toBe(
      true,
    );
    apply(decide(state, { kind: 'addItem', sku: 'x', quantity: 2, priceCents: 300 }, 2));
    const [paid] = apply(decide(state, { kind: 'pay' }, 3)) as OrderEvent[];
    expect(paid).toMatchObject({ type: 'OrderPaid', version: 3, amountCents: 600, at: 3 });
    expect(isRejection(decide(state, { kind: 'place', customer: 'ann' }, 4))).toBe(true);
    apply(decide(state, { kind: 'ship' }, 4));
    expect(state).toMatchObject({ status: 'shipped', version: 4, items: 2, totalCents: 600 });
    expect(isRejection(decide(state, { kind: 'cancel', reason: 'late' }, 5))).toBe(true);
  });
});

describe('event-sourced orders demo', () => {
  it('runs end to end: conflicts, evolution both ways, v3 refused, identical rebuild', async () => {
    const lines: string[] = [];
    const r = await runOrdersDemo((line) => lines.push(line));
    expect(r.schemaIds.v2).toBeGreaterThan(r.schemaIds.v1);
    expect(r.conflict).toMatch(/o-2 is at version 3, the command expected 2/);
    expect(r.rejection).toMatch(/ship: the order is cancelled/);
    expect(r.v3Refused.status).toBe(409);
    expect(r.v3Refused.message).toMatch(/READER_FIELD_MISSING_DEFAULT_VALUE/);
    // The v1 consumer read the v2 events of o-3 (forward compatibility).
    expect(r.statusV1).toEqual({
      'o-1': { orderId: 'o-1', status: 'shipped', version: 4, customer: 'alice', items: 2, totalCents: 9000 },
      'o-2': { orderId: 'o-2', status: 'cancelled', version: 3, customer: 'bob', items: 3, totalCents: 750 },
      'o-3': { orderId: 'o-3', status: 'paid', version: 3, customer: 'carol', items: 1, totalCents: 5000 },
    });
    expect(r.lastEventAsV1).not.toHaveProperty('currency');
    expect(r.lastEventAsV2).toMatchObject({ currency: 'USD', amountCents: 5000 });
    // The v2 consumer read the v1 events with the default currency (backward compatibility).
    expect(r.revenue).toEqual({
      'EUR@2026-12-07T09:00:00.000Z': 9000,
      'USD@2026-12-07T10:00:00.000Z': 5000,
    });
    expect(r.statusRebuilt).toEqual(r.statusV1);
    // The HTTP API: 201, then problem+json 409 / 422 / 400 / 400, then the view.
    expect(r.http.map((h) => h.status)).toEqual([201, 409, 422, 400, 400, 200]);
    expect(r.http[0]!.body).toMatchObject({ orderId: 'o-4', version: 1 });
    expect(r.http[1]!.body).toMatchObject({
      code: 'DDIA_ERR_STREAMING_VERSION_CONFLICT',
      expectedVersion: 0,
      actualVersion: 1,
    });
    expect(r.http[2]!.body).toMatchObject({ code: 'DDIA_ERR_STREAMING_COMMAND_REJECTED' });
    expect(r.http[3]!.body).toMatchObject({ code: 'DDIA_ERR_STREAMING_BAD_COMMAND' });
    expect(r.http[5]!.body).toEqual(r.statusV1['o-1']);
    expect(lines.join('\n')).toMatch(/view identical/);
  });
});
