// A downstream materialized view fed by a stream processor's output topic, applied through an
// IdempotentSink: outputs the processor repeated after a crash (same source position) are
// applied once. `dedupe: false` shows what a naive sink would do with the same topic.
// The view is rebuilt from the log by reading the topic from its start (a fresh group).
import type { Consumer, Kafka } from 'kafkajs';
import { IdempotentSink, parseSource, SOURCE_HEADER } from '../core/streams/index.js';
import { jsonSerde, type Serde } from './runner.js';

export interface TopicViewOptions<S> {
  kafka: Kafka;
  topic: string;
  groupId: string;
  initial: S;
  /** Applies one output (value null: a tombstone) to the view's state. */
  apply: (state: S, key: string | null, value: unknown) => S;
  serde?: Serde;
  dedupe?: boolean;
}

export class TopicView<S> {
  state: S;
  applied = 0;
  skipped = 0;
  private readonly sink = new IdempotentSink();
  private consumer: Consumer | null = null;

  constructor(private readonly options: TopicViewOptions<S>) {
    this.state = options.initial;
  }

  async start(): Promise<void> {
    const { kafka, topic, groupId } = this.options;
    const serde = this.options.serde ?? jsonSerde;
    this.consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200 });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic, fromBeginning: true });
    await this.consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const header = m.headers?.[SOURCE_HEADER];
          const source = header === undefined ? null : parseSource(header.toString());
          if (this.options.dedupe !== false && source && !this.sink.accept(batch.partition, source)) {
            this.skipped++;
            continue;
          }
          const value = m.value === null ? null : await serde.decode(m.value, topic);
          this.state = this.options.apply(this.state, m.key?.toString('utf8') ?? null, value);
          this.applied++;
        }
      },
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }
}
