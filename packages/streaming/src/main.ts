// Entry: node packages/streaming/dist/main.js --port 7401 --kafka-port 9092 --data-dir DIR
// A Kafka-protocol log broker (DDIA chapter 11): kafkajs and kcat talk to it unchanged.
import { configOrExit } from '@ddia/common';
import { BROKER_FLAGS, startBrokerNode } from './node.js';

const config = configOrExit(BROKER_FLAGS);
try {
  await startBrokerNode(config);
} catch (error) {
  console.error(`streaming broker ${config.id} failed to start: ${(error as Error).message}`);
  process.exit(1);
}
