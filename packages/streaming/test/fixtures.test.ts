// The exact bytes kafkajs 2.2.4 sent (captured once by support/capture-fixtures.ts) decode
// with our grammar of each version, to the last byte, into the values the client meant.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decompress } from '../src/broker/compression.js';
import { ApiKey, decodeRecords, isSupported, splitBatches } from '../src/core/index.js';
import { decodeRequest } from '../src/kafka/dispatch.js';
import type { CreateTopicsRequest } from '../src/protocol/create-topics/v3.js';
import type { FetchRequest } from '../src/protocol/fetch/v4-v11.js';
import { decodeRequestHeader } from '../src/protocol/header.js';
import type { JoinGroupRequest } from '../src/protocol/join-group/v5.js';
import type { OffsetCommitRequest } from '../src/protocol/offset-commit/v5.js';
import type { ProduceRequest } from '../src/protocol/produce/v3-v7.js';
import type { SyncGroupRequest } from '../src/protocol/sync-group/v3.js';

const DIR = fileURLToPath(new URL('./fixtures/', import.meta.url));
const files = readdirSync(DIR).filter((f) => f.endsWith('.bin'));
const td = new TextDecoder();

function load(name: string) {
  const { header, body } = decodeRequestHeader(new Uint8Array(readFileSync(`${DIR}${name}.bin`)));
  const request = decodeRequest(header.apiKey, body, header.apiVersion);
  return { header, body, request };
}

describe('captured kafkajs requests', () => {
  it('cover every API the broker serves', () => {
    expect(files).toHaveLength(Object.keys(ApiKey).length);
  });

  it.each(files)('%s decodes completely with a supported version', (file) => {
    const { header, body } = load(file.replace(/\.bin$/, ''));
    expect(header.clientId).toBe('fixture-client');
    expect(isSupported(header.apiKey, header.apiVersion)).toBe(true);
    expect(body.remaining).toBe(0);
  });

  it('Produce v7: one idempotent batch with the key, value and header sent', () => {
    const req = load('Produce-v7').request as ProduceRequest;
    expect(req).toMatchObject({ transactionalId: null, acks: -1 });
    const part = req.topics[0]!.partitions[0]!;
    expect(req.topics[0]!.name).toBe('fixture-topic');
    const [batch] = splitBatches(part.records!); // the CRC32C kafkajs computed checks out
    expect(batch!.header.producerId).toBeGreaterThanOrEqual(0);
    expect(batch!.header.baseSequence).toBe(0);
    const [record] = decodeRecords(batch!, decompress);
    expect(td.decode(record!.key!)).toBe('fixture-key');
    expect(td.decode(record!.value!)).toBe('fixture-value');
    expect(record!.headers).toEqual([{ key: 'h', value: new TextEncoder().encode('v') }]);
  });

  it('Fetch v11: both partitions from offset 0 with the consumer wait', () => {
    const req = load('Fetch-v11').request as FetchRequest;
    expect(req.maxWaitMs).toBe(100);
    expect(req.topics[0]!.topic).toBe('fixture-topic');
    expect(req.topics[0]!.partitions.map((p) => p.fetchOffset)).toEqual([0, 0]);
  });

  it('JoinGroup v5: the first join has no member id and offers kafkajs assigners', () => {
    const req = load('JoinGroup-v5').request as JoinGroupRequest;
    expect(req).toMatchObject({ groupId: 'fixture-group', memberId: '', protocolType: 'consumer' });
    expect(req.protocols.map((p) => p.name)).toContain('RoundRobinAssigner');
  });

  it('SyncGroup v3, OffsetCommit v5, CreateTopics v3 carry what the client meant', () => {
    const sync = load('SyncGroup-v3').request as SyncGroupRequest;
    expect(sync.assignments).toHaveLength(1);
    const commit = load('OffsetCommit-v5').request as OffsetCommitRequest;
    expect(commit.groupId).toBe('fixture-group');
    expect(commit.topics[0]!.partitions.some((p) => p.committedOffset === 1)).toBe(true);
    const create = load('CreateTopics-v3').request as CreateTopicsRequest;
    expect(create.topics[0]).toMatchObject({ name: 'fixture-topic', numPartitions: 2 });
  });
});
