// A kafkajs group member in its own process, so a test can kill -9 it (a crashed consumer).
// Prints one JSON line per assignment it receives.
import { Kafka, logLevel } from 'kafkajs';

const [bootstrap, groupId, topic] = process.argv.slice(2);
const kafka = new Kafka({ brokers: [bootstrap], clientId: 'child', logLevel: logLevel.NOTHING });
const consumer = kafka.consumer({
  groupId,
  // A short session: the test waits this long for the broker to notice the kill -9.
  sessionTimeout: 4000,
  heartbeatInterval: 300,
  maxWaitTimeInMs: 200,
  rebalanceTimeout: 10000,
});
consumer.on(consumer.events.GROUP_JOIN, (e) => {
  process.stdout.write(
    `${JSON.stringify({ memberId: e.payload.memberId, assignment: e.payload.memberAssignment })}\n`,
  );
});
await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: true });
await consumer.run({ eachMessage: async () => {} });
