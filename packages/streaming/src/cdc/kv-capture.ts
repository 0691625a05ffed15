// Change data capture from the lab's kv-store (chapter 1/9) into a topic: DDIA ch. 11,
// "Keeping Systems in Sync" and "Change Data Capture". Each poll lists the store's keys with
// their versions (`GET /kv`, paged; a key's version is the store revision that last wrote it,
// as etcd's mod_revision) and publishes what changed since the last poll, keyed by the kv key,
// to a compacted topic: an upsert as JSON, a deleted key as a tombstone (null value). Upserts
// go out in revision order, so the topic replays the store's writes in the order they happened
// (for the states a poll saw).
//
// This is query-based CDC (polling), not log-based: a key written twice between two polls shows
// only its newer value, and a key deleted and re-created shows as an update. Debezium reads the
// database's replication log instead and sees every write; the kv-store's Raft log would be
// that log here (not exported over HTTP yet, so polling is the honest option).
//
// The capture keeps no state of its own: on start it reads its topic (compacted: the latest
// version of each key) to learn what it already published, so a restarted capture publishes
// only what changed meanwhile. A crash between produce and the next poll republishes at most
// the changes of one poll, with the same versions: consumers keyed by (key, version) apply
// them once.
import { HttpClient } from '@ddia/common';
import type { Kafka, Producer } from 'kafkajs';
import { readTopicToEnd } from '../streams/read-topic.js';

/** Keys per `GET /kv` page (the kv-store caps it too). */
const PAGE_KEYS = 500;

export interface KvItem {
  key: string;
  value: string;
  encoding: 'utf8' | 'base64';
  version: number;
  createRevision: number;
}

interface KvPage {
  revision: number;
  count: number;
  more: boolean;
  items: KvItem[];
}

/** The value of an upsert event in the topic (a delete is a tombstone). */
export interface KvChangeEvent {
  op: 'upsert';
  key: string;
  value: string;
  encoding: 'utf8' | 'base64';
  version: number;
  createRevision: number;
}

export interface KvCaptureOptions {
  kafka: Kafka;
  /** Base URL of a kv-store node, e.g. http://127.0.0.1:7001. */
  kvUrl: string;
  topic: string;
  /** Only keys with this prefix (default: all). */
  prefix?: string;
}

export interface PollResult {
  /** The store revision the poll's first page was read at. */
  revision: number;
  upserts: number;
  deletes: number;
}

export class KvChangeCapture {
  /** key -> version published last (what the topic's compacted state says). */
  private readonly published = new Map<string, number>();
  private producer: Producer | null = null;
  private readonly http = new HttpClient();

  constructor(private readonly options: KvCaptureOptions) {}

  /** Creates the compacted topic if missing and learns what it already holds. */
  async start(): Promise<void> {
    const { kafka, topic } = this.options;
    const admin = kafka.admin();
    await admin.connect();
    try {
      if (!(await admin.listTopics()).includes(topic)) {
        await admin.createTopics({
          topics: [
            { topic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
          ],
          waitForLeaders: true,
        });
      }
    } finally {
      await admin.disconnect();
    }
    await readTopicToEnd(kafka, topic, (m) => {
      const key = m.key?.toString('utf8');
      if (key === undefined) return;
      if (m.value === null) this.published.delete(key);
      else this.published.set(key, (JSON.parse(m.value.toString('utf8')) as KvChangeEvent).version);
    });
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await this.producer.connect();
  }

  /** Every key of the store (with the prefix), read page by page. */
  private async scan(): Promise<{ revision: number; items: KvItem[] }> {
    const items: KvItem[] = [];
    let revision = -1;
    let start: string | undefined;
    for (;;) {
      const query = new URLSearchParams({ limit: String(PAGE_KEYS) });
      if (this.options.prefix) query.set('prefix', this.options.prefix);
      if (start !== undefined) query.set('start', start);
      const page = (await this.http.request(`${this.options.kvUrl}/kv?${query}`)).json<KvPage>();
      if (revision < 0) revision = page.revision;
      items.push(...page.items);
      if (!page.more || page.items.length === 0) break;
      // The next key after the last one listed: start is inclusive.
      start = `${page.items[page.items.length - 1]!.key}\u0000`;
    }
    return { revision, items };
  }

  /** One poll: publishes upserts (in revision order) and deletes; resolves once acks=all. */
  async poll(): Promise<PollResult> {
    if (!this.producer) throw new Error('KvChangeCapture.poll before start');
    const { revision, items } = await this.scan();
    const seen = new Set<string>();
    const upserts: KvItem[] = [];
    for (const item of items) {
      seen.add(item.key);
      if (this.published.get(item.key) !== item.version) upserts.push(item);
    }
    upserts.sort((a, b) => a.version - b.version);
    const deletes = [...this.published.keys()].filter((k) => !seen.has(k));
    const messages = [
      ...upserts.map((item) => ({
        key: item.key,
        value: JSON.stringify({ op: 'upsert', ...item } satisfies KvChangeEvent),
      })),
      ...deletes.map((key) => ({ key, value: null })),
    ];
    if (messages.length > 0) {
      await this.producer.send({ topic: this.options.topic, acks: -1, messages });
      for (const item of upserts) this.published.set(item.key, item.version);
      for (const key of deletes) this.published.delete(key);
    }
    return { revision, upserts: upserts.length, deletes: deletes.length };
  }

  async stop(): Promise<void> {
    await this.producer?.disconnect();
    await this.http.close?.();
  }
}
