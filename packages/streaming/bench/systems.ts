// The systems the benchmark drives with the same workload, each through its own native client:
// our broker (a real process) through kafkajs, Redis Streams (redis-server) through ioredis,
// NATS JetStream (nats-server -js) through the nats.js client. A peer whose server is not
// installed is skipped with the reason printed.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@ddia/testkit';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect as natsConnect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { Kafka, logLevel, type Producer } from 'kafkajs';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
const MAIN_JS = fileURLToPath(new URL('../dist/main.js', import.meta.url));
/** Servers start slowly on the shared machine (over 20 s at load 30). */
const READY_TIMEOUT_MS = 90_000;

export type Acks = 1 | -1;

export interface BenchSystem {
  name: string;
  /** Why an acks level cannot be measured on this system, or null. */
  unsupported(acks: Acks): string | null;
  /** Fresh topic/stream for one run; returns its name. */
  prepare(run: string, acks: Acks): Promise<string>;
  /** Sends one batch and resolves when the system acknowledged all of it. */
  send(producer: number, topic: string, acks: Acks, values: Buffer[]): Promise<void>;
  /** Starts one consumer-group member calling `onValue` per message; returns its stop function. */
  consume(topic: string, onValue: (value: Buffer) => void): Promise<() => Promise<void>>;
  rssBytes(): number;
  stop(): Promise<void>;
}

function which(binary: string): boolean {
  return spawnSync('which', [binary]).status === 0;
}

function rssOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}

/** Waits for a server to answer; one that never does is stopped (not left running) and named. */
async function waitUntil(what: string, child: ChildProcess, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await stopProcess(child);
  throw new Error(`${what} did not start within ${READY_TIMEOUT_MS} ms`);
}

function startProcess(cmd: string, args: string[]): ChildProcess {
  const child = spawn(cmd, args, { stdio: 'ignore' });
  child.on('error', () => {});
  return child;
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

export async function startOurBroker(producers: number): Promise<BenchSystem> {
  const dir = await mkdtemp(join(tmpdir(), 'ddia-streaming-bench-'));
  const [httpPort, kafkaPort] = [await freePort(), await freePort()];
  const child = startProcess(process.execPath, [
    MAIN_JS,
    '--port',
    String(httpPort),
    '--kafka-port',
    String(kafkaPort),
    '--data-dir',
    dir,
    '--log-level',
    'warn',
  ]);
  await waitUntil('the broker', child, async () => (await fetch(`http://127.0.0.1:${httpPort}/ready`)).ok);
  const kafka = new Kafka({
    brokers: [`127.0.0.1:${kafkaPort}`],
    clientId: 'bench',
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  const clients: Producer[] = [];
  for (let i = 0; i < producers; i++) {
    const p = kafka.producer();
    await p.connect();
    clients.push(p);
  }
  return {
    name: 'ddia-broker (kafkajs)',
    unsupported: () => null,
    async prepare(run) {
      await admin.createTopics({ topics: [{ topic: run, numPartitions: 1 }], waitForLeaders: true });
      return run;
    },
    async send(producer, topic, acks, values) {
      await clients[producer]!.send({ topic, acks, messages: values.map((value) => ({ value })) });
    },
    async consume(topic, onValue) {
      const consumer = kafka.consumer({ groupId: `g-${topic}`, maxWaitTimeInMs: 100 });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) onValue(m.value!);
        },
      });
      return () => consumer.disconnect();
    },
    rssBytes: () => rssOf(child.pid),
    async stop() {
      for (const p of clients) await p.disconnect();
      await admin.disconnect();
      await stopProcess(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Redis Streams: XADD pipelined per batch; acks=all is `appendfsync always`, acks=1 `everysec`. */
export async function startRedis(producers: number): Promise<BenchSystem | string> {
  if (!which('redis-server')) return 'redis-server is not installed (Debian: apt-get install redis-server)';
  const dir = await mkdtemp(join(tmpdir(), 'ddia-redis-bench-'));
  const port = await freePort();
  const child = startProcess('redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'yes',
  ]);
  const admin = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => 100 });
  admin.on('error', () => {}); // refused while redis-server is still starting
  await waitUntil('redis-server', child, async () => {
    if (admin.status !== 'ready') await admin.connect();
    return (await admin.ping()) === 'PONG';
  });
  const clients = Array.from({ length: producers }, () => new Redis({ port, host: '127.0.0.1' }));
  return {
    name: 'Redis Streams (ioredis)',
    unsupported: () => null,
    async prepare(run, acks) {
      await admin.config('SET', 'appendfsync', acks === -1 ? 'always' : 'everysec');
      await admin.xgroup('CREATE', run, 'g', '$', 'MKSTREAM');
      return run;
    },
    async send(producer, topic, _acks, values) {
      const pipeline = clients[producer]!.pipeline();
      for (const v of values) pipeline.xaddBuffer(topic, '*', 'v', v);
      const results = await pipeline.exec();
      for (const [err] of results ?? []) if (err) throw err;
    },
    async consume(topic, onValue) {
      const reader = new Redis({ port, host: '127.0.0.1' });
      let running = true;
      const loop = (async () => {
        while (running) {
          const reply = (await reader.callBuffer(
            'XREADGROUP',
            'GROUP',
            'g',
            'c',
            'COUNT',
            1000,
            'BLOCK',
            100,
            'STREAMS',
            topic,
            '>',
          )) as [Buffer, [Buffer, Buffer[]][]][] | null;
          if (!reply) continue;
          const entries = reply[0]![1];
          for (const [, fields] of entries) onValue(fields[1]!);
          if (entries.length > 0) await reader.xack(topic, 'g', ...entries.map(([id]) => id));
        }
      })();
      return async () => {
        running = false;
        await loop;
        reader.disconnect();
      };
    },
    rssBytes: () => rssOf(child.pid),
    async stop() {
      for (const c of clients) c.disconnect();
      admin.disconnect();
      await stopProcess(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** NATS JetStream with file storage; a publish is acknowledged once the server stored it. */
export async function startNats(_producers: number): Promise<BenchSystem | string> {
  if (!which('nats-server')) return 'nats-server is not installed (Debian: apt-get install nats-server)';
  const dir = await mkdtemp(join(tmpdir(), 'ddia-nats-bench-'));
  const port = await freePort();
  const child = startProcess('nats-server', ['-js', '-sd', dir, '-a', '127.0.0.1', '-p', String(port)]);
  let nc: Awaited<ReturnType<typeof natsConnect>> | null = null;
  await waitUntil('nats-server', child, async () => {
    nc = await natsConnect({ servers: `127.0.0.1:${port}` });
    return true;
  });
  const conn = nc!;
  const jsm = await jetstreamManager(conn);
  const js = jetstream(conn);
  return {
    name: 'NATS JetStream (nats.js)',
    unsupported: (acks) =>
      acks === -1
        ? 'JetStream acknowledges after storing, and fsyncs on its own interval, not per publish'
        : null,
    async prepare(run) {
      await jsm.streams.add({ name: run, subjects: [run] });
      await jsm.consumers.add(run, { durable_name: 'g', ack_policy: 'explicit' as never });
      return run;
    },
    async send(_producer, topic, _acks, values) {
      await Promise.all(values.map((v) => js.publish(topic, v)));
    },
    async consume(topic, onValue) {
      const consumer = await js.consumers.get(topic, 'g');
      const messages = await consumer.consume();
      const loop = (async () => {
        for await (const m of messages) {
          onValue(Buffer.from(m.data));
          m.ack();
        }
      })();
      return async () => {
        await messages.close();
        await loop;
      };
    },
    rssBytes: () => rssOf(child.pid),
    async stop() {
      await conn.close();
      await stopProcess(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
