// A StreamApp word count in its own process (the built dist/), so a test can kill -9 it in the
// middle of the stream. Prints one line per batch whose state reached the changelog.
// With a fifth argument, a directory, the state stores are kept in the lab's LSM engine there.
import { openStore } from '@ddia/common';
import { lsmEngine } from '@ddia/lsm-engine';
import { Kafka, logLevel } from 'kafkajs';
import { StreamApp, StreamBuilder } from '../../dist/index.js';

const [bootstrap, applicationId, source, prefix, stateDir] = process.argv.slice(2);
const localState = stateDir
  ? await openStore({ engine: 'lsm', lsm: lsmEngine, dataDir: stateDir, name: `${applicationId}-state` })
  : undefined;
const kafka = new Kafka({ brokers: [bootstrap], clientId: 'wordcount-child', logLevel: logLevel.NOTHING });
const b = new StreamBuilder();
const words = b.stream(source).flatMap((line) => line.split(' ').map((w) => [w, 1]));
words.to(`${prefix}-events`);
words.groupByKey().count('counts').toStream().to(`${prefix}-counts`);
const app = new StreamApp({
  kafka,
  applicationId,
  processor: b.build(),
  localState,
  serdes: { [source]: { encode: (v) => Buffer.from(String(v)), decode: (bytes) => bytes.toString() } },
  // A short session and rebalance timeout: after a kill -9 the group waits this long for us.
  consumer: {
    maxBytesPerPartition: 400,
    sessionTimeout: 6000,
    rebalanceTimeout: 8000,
    heartbeatInterval: 500,
  },
  onStage: (stage, n) => {
    if (stage === 'state-written') process.stdout.write(`${n}\n`);
  },
});
await app.start();
