// Records the request frames kafkajs 2.2.4 sends, one per (API, version), as test fixtures:
//   node --import tsx packages/streaming/test/support/capture-fixtures.ts
// Run it once (again only when kafkajs changes); fixtures.test.ts decodes what it wrote.
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { kafkaClient, removeTempDir, startCapturingBroker, tempDir, waitFor } from './broker.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
const dir = await tempDir();
const { node, captured } = await startCapturingBroker(dir);
const kafka = kafkaClient(node.bootstrap, 'fixture-client');
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic: 'fixture-topic', numPartitions: 2 }] });
await admin.describeConfigs({ resources: [{ type: 2, name: 'fixture-topic' }], includeSynonyms: false });
const producer = kafka.producer({ idempotent: true });
await producer.connect();
await producer.send({
  topic: 'fixture-topic',
  acks: -1,
  messages: [{ key: 'fixture-key', value: 'fixture-value', headers: { h: 'v' }, partition: 0 }],
});
await producer.disconnect();
const consumer = kafka.consumer({ groupId: 'fixture-group', maxWaitTimeInMs: 100 });
await consumer.connect();
await consumer.subscribe({ topic: 'fixture-topic', fromBeginning: true });
let got = 0;
await consumer.run({
  eachMessage: async () => {
    got++;
  },
});
await waitFor('a message', () => got > 0);
await waitFor('a heartbeat', () => captured.has('Heartbeat-v3'));
await consumer.disconnect();
await admin.fetchTopicOffsets('fixture-topic');
await admin.fetchOffsets({ groupId: 'fixture-group', topics: ['fixture-topic'] });
await admin.describeGroups(['fixture-group']);
await admin.listGroups();
await admin.deleteTopics({ topics: ['fixture-topic'] });
await admin.disconnect();
await node.close();
await removeTempDir(dir);
for (const [name, frame] of captured) await writeFile(`${FIXTURES}${name}.bin`, frame);
console.log(`wrote ${captured.size} fixtures: ${[...captured.keys()].sort().join(', ')}`);
