// The event-sourced orders demo (`pnpm --filter @ddia/streaming demo:orders`): a broker and a
// schema registry started in this process, commands turned into Avro events in the `orders`
// topic, views built by stream processors, and a schema evolution while the old consumer keeps
// running. Every step prints what happened; `runOrdersDemo` returns it for the test.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { HttpClient, parseConfig } from '@ddia/common';
import { createRegistryService } from '@ddia/schema-evolution';
import { Kafka, logLevel } from 'kafkajs';
import type { OrderEvent, OrderState } from '../core/orders.js';
import { BROKER_FLAGS, startBrokerNode } from '../node.js';
import { StreamApp } from '../streams/runner.js';
import { TopicView } from '../streams/view.js';
import { ConfluentAvroSerde, RegistryClient, RegistryRefusedError } from './avro-serde.js';
import { CommandRejectedError, OrderEventStore, VersionConflictError } from './event-store.js';
import { createOrdersService } from './http.js';
import { ORDER_EVENT_V1, ORDER_EVENT_V2, ORDER_EVENT_V3_INCOMPATIBLE, ORDERS_SUBJECT } from './schemas.js';
import { orderStatusView, revenuePerHourView } from './views.js';

/** Event times of the demo: a fixed morning, so that runs print the same hours. */
const T0 = Date.UTC(2026, 11, 7, 9, 0, 0);
const minutes = (n: number) => T0 + n * 60_000;
const CATCH_UP_TIMEOUT_MS = 60_000;

export interface OrdersDemoResult {
  schemaIds: { v1: number; v2: number };
  conflict: string;
  rejection: string;
  v3Refused: { status: number; message: string };
  /** The v1 consumer's view, by order id, after v2 events were written. */
  statusV1: Record<string, OrderState>;
  /** The rebuilt view (a new processor reading the log from offset 0). */
  statusRebuilt: Record<string, OrderState>;
  /** What the v1 and v2 readers decode from the last event of o-3 (written with v2). */
  lastEventAsV1: Record<string, unknown>;
  lastEventAsV2: Record<string, unknown>;
  /** `<currency>@<hour start ISO>` -> cents, from the v2 consumer's output topic. */
  revenue: Record<string, number>;
  /** The HTTP API's answers, in order. */
  http: { request: string; status: number; body: unknown }[];
}

async function until(what: string, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + CATCH_UP_TIMEOUT_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function statusTable(entries: [string, OrderState][]): Record<string, OrderState> {
  return Object.fromEntries([...entries].sort(([a], [b]) => a.localeCompare(b)));
}

export async function runOrdersDemo(log: (line: string) => void = console.log): Promise<OrdersDemoResult> {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ddia-orders-demo-'));
  const broker = await startBrokerNode(
    parseConfig(
      ['--port', '0', '--kafka-port', '0', '--data-dir', dir, '--log-level', 'error'],
      {},
      BROKER_FLAGS,
    ),
    { handleSignals: false },
  );
  const registryService = await createRegistryService({
    config: parseConfig(['--port', '0', '--engine', 'memory', '--log-level', 'error']),
    handleSignals: false,
  });
  const registryUrl = await registryService.listen();
  const registry = new RegistryClient(registryUrl);
  const kafka = new Kafka({
    brokers: [broker.bootstrap],
    clientId: 'orders-demo',
    logLevel: logLevel.NOTHING,
  });
  const running: { stop(): Promise<void> }[] = [];
  log(`broker on ${broker.bootstrap}, schema registry on ${registryUrl}`);

  try {
    await registry.setCompatibility(ORDERS_SUBJECT, 'FULL');
    log(
      `registry: subject ${ORDERS_SUBJECT} set to FULL (new readers read old data AND old readers read new data)`,
    );

    // --- v1: producer (the command side) and consumer (the order-status view) ---------------
    const serdeV1 = new ConfluentAvroSerde<OrderEvent>({
      registry,
      subject: ORDERS_SUBJECT,
      schema: ORDER_EVENT_V1,
    });
    const v1Id = await serdeV1.schemaId();
    log(`registry: OrderEvent v1 registered, id ${v1Id}`);
    const storeV1 = new OrderEventStore({ kafka, serde: serdeV1 });
    await storeV1.start();
    const say = (events: OrderEvent[]) =>
      log(`  appended ${events.map((e) => `${e.orderId} v${e.version} ${e.type}`).join(', ')}`);
    log('v1 producer: commands -> events');
    say(await storeV1.execute('o-1', { kind: 'place', customer: 'alice' }, { at: minutes(1) }));
    say(
      await storeV1.execute(
        'o-1',
        { kind: 'addItem', sku: 'ddia-book', quantity: 2, priceCents: 4_500 },
        { at: minutes(2), expectedVersion: 1 },
      ),
    );
    say(await storeV1.execute('o-2', { kind: 'place', customer: 'bob' }, { at: minutes(3) }));
    say(
      await storeV1.execute(
        'o-2',
        { kind: 'addItem', sku: 'pen', quantity: 3, priceCents: 250 },
        { at: minutes(4) },
      ),
    );
    say(await storeV1.execute('o-1', { kind: 'pay' }, { at: minutes(5), expectedVersion: 2 }));
    say(await storeV1.execute('o-1', { kind: 'ship' }, { at: minutes(65) }));

    // Two clerks read o-2 at version 2; the first cancels it, the second's payment is refused.
    say(
      await storeV1.execute(
        'o-2',
        { kind: 'cancel', reason: 'changed mind' },
        { at: minutes(66), expectedVersion: 2 },
      ),
    );
    let conflict = '';
    try {
      await storeV1.execute('o-2', { kind: 'pay' }, { at: minutes(66), expectedVersion: 2 });
    } catch (error) {
      if (!(error instanceof VersionConflictError)) throw error;
      conflict = error.message;
      log(`  409 conflict: ${conflict}`);
    }
    let rejection = '';
    try {
      await storeV1.execute('o-2', { kind: 'ship' }, { at: minutes(67) });
    } catch (error) {
      if (!(error instanceof CommandRejectedError)) throw error;
      rejection = error.message;
      log(`  422 rejected: ${rejection}`);
    }

    const statusV1App = new StreamApp({
      kafka,
      applicationId: 'order-status-v1',
      processor: orderStatusView().build(),
      serdes: { orders: serdeV1 },
    });
    running.push(statusV1App);
    await statusV1App.start();
    await until('the v1 view', async () => (await statusV1App.lag()) === 0);
    log('v1 consumer (StreamApp order-status-v1): view built');
    for (const [id, s] of Object.entries(statusTable(statusV1App.entries<OrderState>('order-status'))))
      log(`  ${id}: ${s.status}, v${s.version}, ${s.items} items, ${s.totalCents} cents`);

    // --- v2: a producer with a new optional field; the v1 consumer keeps running ------------
    const serdeV2 = new ConfluentAvroSerde<OrderEvent>({
      registry,
      subject: ORDERS_SUBJECT,
      schema: ORDER_EVENT_V2,
    });
    const v2Id = await serdeV2.schemaId();
    log(`registry: OrderEvent v2 (+ currency: string, default "EUR") accepted under FULL, id ${v2Id}`);
    await storeV1.stop();
    const storeV2 = new OrderEventStore({ kafka, serde: serdeV2 });
    const { eventsRead } = await storeV2.start();
    log(`v2 producer: rebuilt the state of every order from the log (${eventsRead} events, v1-encoded)`);
    say(await storeV2.execute('o-3', { kind: 'place', customer: 'carol' }, { at: minutes(70) }));
    say(
      await storeV2.execute(
        'o-3',
        { kind: 'addItem', sku: 'ddia-book', quantity: 1, priceCents: 5_000 },
        { at: minutes(71) },
      ),
    );
    const lastV2 = await storeV2.execute('o-3', { kind: 'pay', currency: 'USD' }, { at: minutes(72) });
    say(lastV2);
    running.push(storeV2);

    await until('the v1 view to read the v2 events', async () => (await statusV1App.lag()) === 0);
    const statusV1 = statusTable(statusV1App.entries<OrderState>('order-status'));
    log(`v1 consumer still running on v2 events (forward compatibility): o-3 is ${statusV1['o-3']?.status}`);
    const encodedLast = await serdeV2.encode(lastV2[0]!);
    const lastEventAsV1 = { ...(await serdeV1.decode(encodedLast)) } as Record<string, unknown>;
    const lastEventAsV2 = { ...(await serdeV2.decode(encodedLast)) } as Record<string, unknown>;
    log(`  o-3's OrderPaid read with v1: currency ${'currency' in lastEventAsV1 ? 'present' : 'absent'}`);

    // --- the v2 consumer: revenue per hour per currency, reading the log from the start -----
    const revenueApp = new StreamApp({
      kafka,
      applicationId: 'revenue-v2',
      processor: revenuePerHourView().build(),
      serdes: { orders: serdeV2 },
    });
    running.push(revenueApp);
    await revenueApp.start();
    const revenueView = new TopicView<Record<string, number>>({
      kafka,
      topic: 'revenue-per-hour',
      groupId: 'revenue-dashboard',
      initial: {},
      apply: (state, key, value) => {
        const w = value as { key: string; start: number; value: number } | null;
        if (w) state[`${w.key}@${new Date(w.start).toISOString()}`] = w.value;
        else if (key) delete state[key];
        return state;
      },
    });
    running.push(revenueView);
    await until('the v2 consumer', async () => (await revenueApp.lag()) === 0);
    await revenueView.start();
    const paid = [9_000, 5_000];
    await until(
      'the revenue view',
      () => Object.values(revenueView.state).reduce((a, b) => a + b, 0) === paid.reduce((a, b) => a + b, 0),
    );
    const revenue = Object.fromEntries(Object.entries(revenueView.state).sort());
    log(
      'v2 consumer (StreamApp revenue-v2) over v1 and v2 events (backward compatibility: v1 events read as EUR):',
    );
    for (const [slot, cents] of Object.entries(revenue)) log(`  ${slot}: ${cents} cents`);
    log(`  (late records dropped: ${revenueApp.stats.late})`);

    // --- v3 is incompatible: the registry refuses it -----------------------------------------
    let v3Refused = { status: 0, message: '' };
    try {
      await registry.register(ORDERS_SUBJECT, ORDER_EVENT_V3_INCOMPATIBLE);
    } catch (error) {
      if (!(error instanceof RegistryRefusedError)) throw error;
      v3Refused = { status: error.status, message: error.message };
      log(
        `registry: v3 (+ warehouse: string, NO default) refused, ${error.status}: ${error.message.slice(0, 160)}...`,
      );
    }

    // --- rebuild: drop the view, recompute it from the log -----------------------------------
    const rebuilt = new StreamApp({
      kafka,
      applicationId: 'order-status-rebuild',
      processor: orderStatusView().build(),
      serdes: { orders: serdeV2 },
    });
    running.push(rebuilt);
    await rebuilt.start();
    await until('the rebuilt view', async () => (await rebuilt.lag()) === 0);
    const statusRebuilt = statusTable(rebuilt.entries<OrderState>('order-status'));
    const same = JSON.stringify(statusRebuilt) === JSON.stringify(statusV1);
    log(
      `rebuild: a new processor read the log from offset 0: view ${same ? 'identical' : 'DIFFERENT'} to the v1 consumer's`,
    );

    // --- the HTTP API over the v2 event store and the rebuilt view ---------------------------
    const api = await createOrdersService({
      config: parseConfig(['--port', '0', '--log-level', 'error']),
      store: storeV2,
      statusView: rebuilt,
      revenue: () => revenueView.state,
      handleSignals: false,
    });
    const apiUrl = await api.listen();
    running.push({ stop: () => api.close() });
    const client = new HttpClient();
    running.push({ stop: () => client.close() });
    const http: OrdersDemoResult['http'] = [];
    log(`HTTP API on ${apiUrl}:`);
    const call = async (method: 'GET' | 'POST', urlPath: string, body?: object) => {
      const response = await client.request(`${apiUrl}${urlPath}`, {
        method,
        ...(body === undefined ? {} : { body }),
      });
      const answer = response.body.length > 0 ? response.json() : null;
      const request = `${method} ${urlPath}${body === undefined ? '' : ` ${JSON.stringify(body)}`}`;
      http.push({ request, status: response.status, body: answer });
      log(`  ${request}\n    -> ${response.status} ${JSON.stringify(answer)}`);
    };
    await call('POST', '/orders/o-4/commands', { kind: 'place', customer: 'dave', at: minutes(80) });
    await call('POST', '/orders/o-4/commands', {
      kind: 'addItem',
      sku: 'pen',
      quantity: 1,
      priceCents: 250,
      expectedVersion: 0,
      at: minutes(81),
    });
    await call('POST', '/orders/o-4/commands', { kind: 'ship', at: minutes(82) });
    await call('POST', '/orders/o-5/commands', { kind: 'place' });
    await call('POST', '/orders/o-5/commands', { kind: 'refund', customer: 'eve' });
    await call('GET', '/orders/o-1');

    return {
      http,
      schemaIds: { v1: v1Id, v2: v2Id },
      conflict,
      rejection,
      v3Refused,
      statusV1,
      statusRebuilt,
      lastEventAsV1,
      lastEventAsV2,
      revenue,
    };
  } finally {
    for (const r of running.reverse()) await r.stop().catch(() => {});
    await registry.close();
    await registryService.close();
    await broker.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runOrdersDemo().then(
    () => process.exit(0),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
