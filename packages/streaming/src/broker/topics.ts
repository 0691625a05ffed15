// Topic metadata (names, partition counts, per-topic configs) and the producer-id allocator,
// in one small JSON file replaced atomically on every change. A topic's partitions live in
// `topics/<name>-<id>/<partition>/`; the id makes a re-created topic a new directory, so a
// crash halfway through deleting the old one can never mix the two.
import { type FileSystem, nodeFileSystem, removeTree } from '@ddia/common';
import { ErrorCode } from '../core/index.js';
import { join, listDirs, readJson, STREAMING_SYNC, writeJson } from '../log/files.js';

export const TOPIC_NAME_BYTES_MAX = 249;
export const PARTITIONS_MAX = 1000;
/** Producer ids are reserved on disk in blocks, so that InitProducerId rarely writes a file. */
const PRODUCER_ID_BLOCK = 1000;
const META_FILE = 'meta.json';

/** The topic configs this broker understands, with Kafka's names. */
export const TOPIC_CONFIG_NAMES = [
  'cleanup.policy',
  'retention.ms',
  'retention.bytes',
  'segment.bytes',
  'delete.retention.ms',
  'max.message.bytes',
] as const;

export type TopicConfigName = (typeof TOPIC_CONFIG_NAMES)[number];

export interface TopicMeta {
  name: string;
  id: number;
  partitions: number;
  configs: Partial<Record<TopicConfigName, string>>;
}

interface MetaFile {
  nextTopicId: number;
  producerIdsReservedUpTo: number;
  topics: TopicMeta[];
}

/** Why a topic name is refused (Kafka's rules), or null when it is fine. */
export function topicNameProblem(name: string): string | null {
  if (name.length === 0) return 'topic name is empty';
  if (name === '.' || name === '..') return `topic name '${name}' is reserved`;
  if (name.length > TOPIC_NAME_BYTES_MAX)
    return `topic name is longer than ${TOPIC_NAME_BYTES_MAX} characters`;
  if (!/^[a-zA-Z0-9._-]+$/.test(name)) return `topic name '${name}' has characters other than [a-zA-Z0-9._-]`;
  return null;
}

/** Why a topic config is refused, or null. */
export function configProblem(name: string, value: string | null): string | null {
  if (!(TOPIC_CONFIG_NAMES as readonly string[]).includes(name)) return `unknown topic config '${name}'`;
  if (value === null) return `config '${name}' has no value`;
  if (name === 'cleanup.policy') {
    return ['delete', 'compact', 'compact,delete', 'delete,compact'].includes(value)
      ? null
      : `cleanup.policy must be delete, compact or both, got '${value}'`;
  }
  if (!/^-?\d+$/.test(value)) return `config '${name}' must be an integer, got '${value}'`;
  const n = Number(value);
  if (name === 'segment.bytes' && n < 1024) return 'segment.bytes must be at least 1024';
  if (name === 'max.message.bytes' && n < 0) return 'max.message.bytes must not be negative';
  return null;
}

export class TopicStore {
  private saving: Promise<void> = Promise.resolve();

  private constructor(
    private readonly dataDir: string,
    private meta: MetaFile,
    readonly fs: FileSystem,
  ) {}

  static async open(dataDir: string, fs: FileSystem = nodeFileSystem): Promise<TopicStore> {
    const meta = (await readJson<MetaFile>(fs, join(dataDir, META_FILE))) ?? {
      nextTopicId: 1,
      producerIdsReservedUpTo: 0,
      topics: [],
    };
    const store = new TopicStore(dataDir, meta, fs);
    // Directories of topics deleted just before a crash.
    const live = new Set(meta.topics.map((t) => store.dirName(t)));
    for (const name of await listDirs(fs, join(dataDir, 'topics'))) {
      if (!live.has(name)) await removeTree(fs, join(dataDir, 'topics', name));
    }
    return store;
  }

  private dirName(topic: TopicMeta): string {
    return `${topic.name}-${topic.id}`;
  }

  partitionDir(topic: TopicMeta, partition: number): string {
    return join(this.dataDir, 'topics', this.dirName(topic), String(partition));
  }

  list(): TopicMeta[] {
    return this.meta.topics;
  }

  get(name: string): TopicMeta | undefined {
    return this.meta.topics.find((t) => t.name === name);
  }

  /** Checks a create; resolves with the Kafka error and message, or NONE. */
  validate(
    name: string,
    partitions: number,
    replicationFactor: number,
    configs: { name: string; value: string | null }[],
  ): { errorCode: number; message: string | null } {
    const nameProblem = topicNameProblem(name);
    if (nameProblem) return { errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, message: nameProblem };
    if (this.get(name))
      return { errorCode: ErrorCode.TOPIC_ALREADY_EXISTS, message: `Topic '${name}' already exists.` };
    if (partitions < 1 || partitions > PARTITIONS_MAX) {
      return {
        errorCode: ErrorCode.INVALID_PARTITIONS,
        message: `number of partitions must be 1..${PARTITIONS_MAX}`,
      };
    }
    if (replicationFactor !== 1) {
      return {
        errorCode: ErrorCode.INVALID_REPLICATION_FACTOR,
        message: `Replication factor: ${replicationFactor} larger than available brokers: 1.`,
      };
    }
    for (const c of configs) {
      const problem = configProblem(c.name, c.value);
      if (problem) return { errorCode: ErrorCode.INVALID_CONFIG, message: problem };
    }
    return { errorCode: ErrorCode.NONE, message: null };
  }

  async create(name: string, partitions: number, configs: TopicMeta['configs']): Promise<TopicMeta> {
    let topic!: TopicMeta;
    await this.save(() => {
      topic = { name, id: this.meta.nextTopicId, partitions, configs };
      return { ...this.meta, nextTopicId: topic.id + 1, topics: [...this.meta.topics, topic] };
    });
    return topic;
  }

  async delete(topic: TopicMeta): Promise<void> {
    await this.save(() => ({ ...this.meta, topics: this.meta.topics.filter((t) => t.id !== topic.id) }));
    await removeTree(this.fs, join(this.dataDir, 'topics', this.dirName(topic)));
  }

  /** Reserves a block of producer ids on disk; returns the first id of the block. */
  async reserveProducerIds(): Promise<{ first: number; end: number }> {
    let first = 0;
    await this.save(() => {
      first = this.meta.producerIdsReservedUpTo;
      return { ...this.meta, producerIdsReservedUpTo: first + PRODUCER_ID_BLOCK };
    });
    return { first, end: first + PRODUCER_ID_BLOCK };
  }

  /** Changes are written one at a time, each from the state the previous one left. */
  private save(next: MetaFile | (() => MetaFile)): Promise<void> {
    const run = this.saving.then(async () => {
      const value = typeof next === 'function' ? next() : next;
      await writeJson(this.fs, join(this.dataDir, META_FILE), value, STREAMING_SYNC.topicsMeta);
      this.meta = value;
    });
    this.saving = run.catch(() => {});
    return run;
  }
}
