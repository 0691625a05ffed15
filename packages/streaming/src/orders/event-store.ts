// The orders' event store: an order's events are appended to the `orders` topic keyed by the
// order id (so one order's events stay in one partition, in order), Avro-encoded through the
// registry. Commands are checked against the current state of their order, rebuilt on start by
// reading the topic (the log is the source of truth; this map is a cache of it), and an append
// can state the version it expects (EventStoreDB's expected version): if another command got
// there first, the append is refused with a conflict instead of silently interleaving.
//
// The check is only as strong as its single writer: one store instance owns the topic's
// appends (appends are serialized here). Several writers would need the broker to check the
// expected version, which Kafka cannot do either.
import type { Kafka, Producer } from 'kafkajs';
import {
  decide,
  emptyOrder,
  evolve,
  isRejection,
  type OrderCommand,
  type OrderEvent,
  type OrderState,
} from '../core/orders.js';
import { readTopicToEnd } from '../streams/read-topic.js';
import type { ConfluentAvroSerde } from './avro-serde.js';

export const ORDERS_TOPIC = 'orders';
export const ORDERS_PARTITIONS = 3;

/** The order changed since the caller read it (HTTP: 409 Conflict). */
export class VersionConflictError extends Error {
  constructor(
    readonly orderId: string,
    readonly expectedVersion: number,
    readonly actualVersion: number,
  ) {
    super(`order ${orderId} is at version ${actualVersion}, the command expected ${expectedVersion}`);
    this.name = 'VersionConflictError';
  }
}

/** The command does not apply to the order's state (HTTP: 422). */
export class CommandRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandRejectedError';
  }
}

export interface OrderEventStoreOptions {
  kafka: Kafka;
  serde: ConfluentAvroSerde<OrderEvent>;
  topic?: string;
}

export class OrderEventStore {
  private readonly orders = new Map<string, OrderState>();
  private producer: Producer | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  readonly topic: string;

  constructor(private readonly options: OrderEventStoreOptions) {
    this.topic = options.topic ?? ORDERS_TOPIC;
  }

  /** Creates the topic if needed and rebuilds every order's state from it. */
  async start(): Promise<{ eventsRead: number }> {
    const admin = this.options.kafka.admin();
    await admin.connect();
    if (!(await admin.listTopics()).includes(this.topic))
      await admin.createTopics({
        topics: [{ topic: this.topic, numPartitions: ORDERS_PARTITIONS }],
        waitForLeaders: true,
      });
    await admin.disconnect();
    const eventsRead = await readTopicToEnd(this.options.kafka, this.topic, async (m) => {
      if (m.value === null) return;
      const event = await this.options.serde.decode(m.value);
      this.orders.set(event.orderId, evolve(this.state(event.orderId), event));
    });
    this.producer = this.options.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await this.producer.connect();
    return { eventsRead };
  }

  state(orderId: string): OrderState {
    return this.orders.get(orderId) ?? emptyOrder(orderId);
  }

  /**
   * Decides a command and appends its events (acks=all). `expectedVersion`: the version the
   * caller last saw; a different current version is a VersionConflictError.
   */
  execute(
    orderId: string,
    command: OrderCommand,
    options: { expectedVersion?: number; at: number },
  ): Promise<OrderEvent[]> {
    const run = this.queue.then(() => this.executeNow(orderId, command, options));
    this.queue = run.catch(() => {});
    return run;
  }

  private async executeNow(
    orderId: string,
    command: OrderCommand,
    options: { expectedVersion?: number; at: number },
  ): Promise<OrderEvent[]> {
    const state = this.state(orderId);
    if (options.expectedVersion !== undefined && options.expectedVersion !== state.version)
      throw new VersionConflictError(orderId, options.expectedVersion, state.version);
    const decided = decide(state, command, options.at);
    if (isRejection(decided)) throw new CommandRejectedError(decided.rejected);
    const messages = await Promise.all(
      decided.map(async (event) => ({ key: orderId, value: await this.options.serde.encode(event) })),
    );
    await this.producer!.send({ topic: this.topic, acks: -1, messages });
    this.orders.set(orderId, decided.reduce(evolve, state));
    return decided;
  }

  async stop(): Promise<void> {
    await this.queue;
    await this.producer?.disconnect();
  }
}
