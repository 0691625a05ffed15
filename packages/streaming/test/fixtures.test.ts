// The exact bytes kafkajs 2.2.4 sent (captured once by support/capture-fixtures.ts) decode
// with our grammar of each version, to the last byte, into the values the client meant.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decompress } from '../src/broker/compression.js';
import { ApiKey, decodeRecords, ErrorCode, isSupported, splitBatches } from '../src/core/index.js';
import { Reader } from '../src/core/wire/reader.js';
import { Writer } from '../src/core/wire/writer.js';
import { decodeRequest, refusalFor, unsupportedApiVersionsBody } from '../src/kafka/dispatch.js';
import type { CreateTopicsRequest } from '../src/protocol/create-topics/v3.js';
import type { FetchRequest } from '../src/protocol/fetch/v4-v11.js';
import { decodeRequestHeader } from '../src/protocol/header.js';
import { encodeJoinGroupResponse, type JoinGroupRequest } from '../src/protocol/join-group/v0-v5.js';
import type { LeaveGroupRequest } from '../src/protocol/leave-group/v0-v3.js';
import type { OffsetCommitRequest } from '../src/protocol/offset-commit/v2-v5.js';
import type { ProduceRequest } from '../src/protocol/produce/v3-v7.js';
import type { SyncGroupRequest } from '../src/protocol/sync-group/v0-v3.js';

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

// The same for librdkafka 2.0.2 through Debian's kcat (support/capture-kcat-fixtures.ts):
// the versions it picks from our ranges, and its opening ApiVersions v3 that we refuse.
const KCAT_DIR = `${DIR}kcat/`;
const kcatFiles = readdirSync(KCAT_DIR).filter((f) => f.endsWith('.bin'));

function loadKcat(name: string) {
  return decodeRequestHeader(new Uint8Array(readFileSync(`${KCAT_DIR}${name}.bin`)));
}

describe('captured kcat (librdkafka) requests', () => {
  it('produce, metadata, consume and a consumer group: every API kcat used', () => {
    expect(kcatFiles.map((f) => f.split('-')[0]).sort()).toEqual(
      [
        'ApiVersions',
        'ApiVersions',
        'Fetch',
        'FindCoordinator',
        'Heartbeat',
        'JoinGroup',
        'LeaveGroup',
        'ListOffsets',
        'Metadata',
        'OffsetCommit',
        'OffsetFetch',
        'Produce',
        'SyncGroup',
      ].sort(),
    );
  });

  it.each(kcatFiles.filter((f) => f !== 'ApiVersions-v3.bin'))(
    '%s decodes completely with a supported version',
    (file) => {
      const { header, body } = loadKcat(file.replace(/\.bin$/, ''));
      expect(header.clientId).toBe('fixture-kcat');
      expect(isSupported(header.apiKey, header.apiVersion)).toBe(true);
      decodeRequest(header.apiKey, body, header.apiVersion);
      expect(body.remaining).toBe(0);
    },
  );

  it('ApiVersions v3 (flexible) is refused with our list in the v0 layout, and kcat retries with v0', () => {
    const { header } = loadKcat('ApiVersions-v3');
    expect(refusalFor(header)).toEqual({ kind: 'unsupported-api-versions' });
    const answer = new Reader(unsupportedApiVersionsBody());
    expect(answer.int16()).toBe(ErrorCode.UNSUPPORTED_VERSION);
    const keys = answer.array((r) => ({ apiKey: r.int16(), min: r.int16(), max: r.int16() }));
    expect(keys.find((k) => k.apiKey === ApiKey.JoinGroup)).toEqual({
      apiKey: ApiKey.JoinGroup,
      min: 0,
      max: 5,
    });
    expect(loadKcat('ApiVersions-v0').header.apiVersion).toBe(0);
  });

  it('LeaveGroup v1 names the one member leaving; OffsetCommit v5 the offset after the message read', () => {
    const leave = loadKcat('LeaveGroup-v1');
    const req = decodeRequest(leave.header.apiKey, leave.body, 1) as LeaveGroupRequest;
    expect(req.groupId).toBe('fixture-group');
    expect(req.members).toHaveLength(1);
    expect(req.members[0]!.memberId).toMatch(/^fixture-kcat-/);
    const commit = loadKcat('OffsetCommit-v5');
    const c = decodeRequest(commit.header.apiKey, commit.body, 5) as OffsetCommitRequest;
    expect(c.topics[0]).toMatchObject({ name: 'fixture-topic', partitions: [{ committedOffset: 1 }] });
  });

  it('Produce v7 from kcat: one batch with the key and value typed in', () => {
    const produce = loadKcat('Produce-v7');
    const req = decodeRequest(produce.header.apiKey, produce.body, 7) as ProduceRequest;
    const [batch] = splitBatches(req.topics[0]!.partitions[0]!.records!);
    const [record] = decodeRecords(batch!, decompress);
    expect(td.decode(record!.key!)).toBe('fixture-key');
    expect(td.decode(record!.value!)).toBe('fixture-value');
  });
});

describe('older group API layouts (librdkafka needs them advertised)', () => {
  it('JoinGroup v0 has no rebalance timeout or instance id; its answer no throttle time', () => {
    const w = new Writer();
    w.string('g').int32(10_000).string('').string('consumer');
    w.array([{ name: 'range', metadata: new Uint8Array([1]) }], (w, p) =>
      w.string(p.name).nullableBytes(p.metadata),
    );
    const body = new Reader(w.bytes());
    const req = decodeRequest(ApiKey.JoinGroup, body, 0) as JoinGroupRequest;
    expect(body.remaining).toBe(0);
    expect(req).toMatchObject({ groupId: 'g', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000 });
    const v0 = new Writer();
    const v5 = new Writer();
    const res = {
      errorCode: 0,
      generationId: 1,
      protocolName: 'range',
      leader: 'm',
      memberId: 'm',
      members: [{ memberId: 'm', groupInstanceId: null, metadata: new Uint8Array(0) }],
    };
    encodeJoinGroupResponse(v0, res, 0);
    encodeJoinGroupResponse(v5, res, 5);
    // v5 adds the throttle time (4 bytes) and a null instance id per member (2 bytes).
    expect(v5.bytes().length - v0.bytes().length).toBe(6);
    expect(new Reader(v0.bytes()).int16()).toBe(0);
  });

  it('OffsetCommit v2 carries a retention time that is read past', () => {
    const w = new Writer();
    w.string('g').int32(3).string('m').int64(-1);
    w.array([0], (w) => w.string('t').array([0], (w) => w.int32(0).int64(42).nullableString(null)));
    const body = new Reader(w.bytes());
    const req = decodeRequest(ApiKey.OffsetCommit, body, 2) as OffsetCommitRequest;
    expect(body.remaining).toBe(0);
    expect(req).toMatchObject({ groupId: 'g', generationId: 3, memberId: 'm' });
    expect(req.topics[0]!.partitions[0]!.committedOffset).toBe(42);
  });
});
