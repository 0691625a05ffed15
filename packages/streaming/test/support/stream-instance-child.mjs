// One instance of a multi-instance StreamApp (the built dist/), so a test can run several in
// their own processes and kill -9 one. The topology: lines -> words -> repartition by word ->
// count per word (a task per partition: the repartition topic puts each word in one task).
// Prints a JSON status line whenever its tasks or counters change.
import { Kafka, logLevel } from 'kafkajs';
import { StreamApp, StreamBuilder } from '../../dist/index.js';

const [bootstrap, applicationId, prefix] = process.argv.slice(2);
const kafka = new Kafka({ brokers: [bootstrap], clientId: 'instance-child', logLevel: logLevel.NOTHING });
const b = new StreamBuilder();
b.stream(`${prefix}-lines`)
  .flatMap((line) => line.split(' ').map((w) => [w, 1]))
  .repartition(`${prefix}-words`)
  .groupByKey()
  .count('counts')
  .toStream()
  .to(`${prefix}-counts`);
const app = new StreamApp({
  kafka,
  applicationId,
  processor: b.build(),
  serdes: {
    [`${prefix}-lines`]: { encode: (v) => Buffer.from(String(v)), decode: (bytes) => bytes.toString() },
  },
  consumer: {
    maxBytesPerPartition: 300,
    sessionTimeout: 4000,
    rebalanceTimeout: 8000,
    heartbeatInterval: 300,
  },
});
let last = '';
const report = () => {
  const line = JSON.stringify({
    tasks: app.ownedTasks,
    batches: app.stats.batches,
    restoredTasks: app.stats.restoredTasks,
    restoredChanges: app.stats.restoredChanges,
    fenced: app.stats.fenced,
    failure: app.failure?.message ?? null,
  });
  if (line !== last) process.stdout.write(`${line}\n`);
  last = line;
};
setInterval(report, 100);
await app.start();
report();
