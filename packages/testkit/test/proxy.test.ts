// The fault proxy measured: each test injects a fault and measures that it happened, on real
// sockets through real link proxies.
import { SeededRandom } from '@ddia/common';
import { afterEach, describe, expect, it } from 'vitest';
import { CLIENT, ProxyFaultError, ProxyNetwork } from '../src/proxy/index.js';
import {
  type Closable,
  echoClient,
  echoServer,
  get,
  median,
  namedHttpServer,
  sleep,
} from './proxy-helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function echoNetwork() {
  const echo = await echoServer();
  const network = await ProxyNetwork.start({
    links: [{ from: CLIENT, to: 'n1', targetPort: echo.port }],
    random: new SeededRandom(7),
  });
  cleanups.push(
    () => echo.close(),
    () => network.close(),
  );
  const client = await echoClient(network.link(CLIENT, 'n1').port);
  cleanups.push(() => void client.close());
  return { network, client };
}

async function sampleRoundTrips(client: Awaited<ReturnType<typeof echoClient>>, count: number) {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) samples.push((await client.roundTrip(Buffer.from(`ping ${i}`))).ms);
  return samples;
}

describe('latency', () => {
  it('adds 50 ms ± 5 ms to a link, measured round trip by round trip', async () => {
    const { network, client } = await echoNetwork();
    const baseline = median(await sampleRoundTrips(client, 20));
    network.latency(CLIENT, 'n1', 50, 5);
    const added = (await sampleRoundTrips(client, 40)).map((ms) => ms - baseline);
    console.log(
      `latency 50±5 ms: baseline ${baseline.toFixed(2)} ms, added median ${median(added).toFixed(2)} ms,` +
        ` min ${Math.min(...added).toFixed(2)}, max ${Math.max(...added).toFixed(2)}`,
    );
    expect(median(added)).toBeGreaterThanOrEqual(45);
    expect(median(added)).toBeLessThanOrEqual(55);
    // Jitter never takes a chunk below latency - jitter; a loaded machine may add a little on top.
    expect(Math.min(...added)).toBeGreaterThanOrEqual(44);
    expect(Math.max(...added)).toBeLessThan(55 + 40);
    // And the jitter is real: the samples spread.
    expect(Math.max(...added) - Math.min(...added)).toBeGreaterThan(2);
  });

  it('is one-way: latency on the return path delays the responses', async () => {
    const { network, client } = await echoNetwork();
    const baseline = median(await sampleRoundTrips(client, 10));
    network.latency('n1', CLIENT, 30);
    const added = median(await sampleRoundTrips(client, 10)) - baseline;
    expect(added).toBeGreaterThanOrEqual(29);
    expect(added).toBeLessThan(45);
    network.clear();
    expect(median(await sampleRoundTrips(client, 10))).toBeLessThan(baseline + 10);
  });

  it('keeps bytes in order under heavy jitter', async () => {
    const { network, client } = await echoNetwork();
    network.latency(CLIENT, 'n1', 20, 19);
    const parts = Array.from({ length: 300 }, (_, i) => Buffer.from(`${i};`));
    const expected = Buffer.concat(parts);
    // Many separate writes, each its own chunk with its own jittered delay.
    const received: Buffer[] = [];
    const all = new Promise<void>((resolve) => {
      let bytes = 0;
      client.socket.on('data', (c: Buffer) => {
        received.push(c);
        bytes += c.length;
        if (bytes >= expected.length) resolve();
      });
    });
    for (const part of parts) {
      client.socket.write(part);
      await sleep(0);
    }
    await all;
    expect(Buffer.concat(received).toString()).toBe(expected.toString());
  });

  it('changes on the fly on an open connection', async () => {
    const { network, client } = await echoNetwork();
    network.latency(CLIENT, 'n1', 80);
    expect((await client.roundTrip(Buffer.from('a'))).ms).toBeGreaterThanOrEqual(79);
    network.latency(CLIENT, 'n1', 0);
    expect((await client.roundTrip(Buffer.from('b'))).ms).toBeLessThan(40);
  });
});

describe('bandwidth cap', () => {
  it('caps a link at 256 KiB/s, measured on a 512 KiB transfer', async () => {
    const { network, client } = await echoNetwork();
    const capBytesPerSec = 256 * 1024;
    network.bandwidth(CLIENT, 'n1', capBytesPerSec);
    const payload = Buffer.alloc(512 * 1024, 7);
    const { ms, echoed } = await client.roundTrip(payload);
    const measured = (payload.length * 1000) / ms;
    console.log(
      `bandwidth cap 256 KiB/s: measured ${(measured / 1024).toFixed(1)} KiB/s over ${ms.toFixed(0)} ms`,
    );
    expect(echoed.equals(payload)).toBe(true);
    expect(measured).toBeLessThanOrEqual(capBytesPerSec * 1.05);
    expect(measured).toBeGreaterThanOrEqual(capBytesPerSec * 0.8);
    network.bandwidth(CLIENT, 'n1', null);
    const fast = await client.roundTrip(payload);
    expect(fast.ms).toBeLessThan(ms / 4);
  });
  it('caps the link as a whole: parallel connections share the rate', async () => {
    const { network, client } = await echoNetwork();
    const second = await echoClient(network.link(CLIENT, 'n1').port);
    cleanups.push(() => void second.close());
    const capBytesPerSec = 256 * 1024;
    network.bandwidth(CLIENT, 'n1', capBytesPerSec);
    const payload = Buffer.alloc(128 * 1024, 3);
    const started = performance.now();
    await Promise.all([client.roundTrip(payload), second.roundTrip(payload)]);
    const ms = performance.now() - started;
    // Two 128 KiB transfers through one 256 KiB/s line need about a second, not half of one.
    expect(ms).toBeGreaterThanOrEqual(((2 * payload.length) / capBytesPerSec) * 1000 * 0.9);
  });
});

describe('partitions, blackholes and resets', () => {
  async function threeNodes() {
    const servers: Record<string, Closable> = {};
    for (const id of ['n1', 'n2', 'n3']) servers[id] = await namedHttpServer(id);
    const links = [];
    for (const from of ['n1', 'n2', 'n3', CLIENT])
      for (const to of ['n1', 'n2', 'n3'])
        if (from !== to) links.push({ from, to, targetPort: servers[to]!.port });
    const network = await ProxyNetwork.start({ links });
    cleanups.push(() => network.close());
    for (const s of Object.values(servers)) cleanups.push(() => s.close());
    const via = (from: string, to: string, timeoutMs = 400) => get(network.link(from, to).port, timeoutMs);
    return { network, via };
  }

  it('partition([[n1, n2], [n3]]): inside a side requests succeed, across it they stall until heal', async () => {
    const { network, via } = await threeNodes();
    network.partition([['n1', 'n2'], ['n3']]);
    expect(await via('n1', 'n2')).toMatchObject({ kind: 'ok', body: 'n2' });
    expect(await via('n2', 'n1')).toMatchObject({ kind: 'ok', body: 'n1' });
    for (const [from, to] of [
      ['n1', 'n3'],
      ['n3', 'n1'],
      ['n2', 'n3'],
      ['n3', 'n2'],
    ] as const) {
      expect((await via(from, to)).kind).toBe('timeout');
    }
    // Clients are not partitioned (Jepsen's control node reaches every node).
    expect(await via(CLIENT, 'n3')).toMatchObject({ kind: 'ok', body: 'n3' });
    // A request sent during the partition is held, and completes after heal.
    const pending = via('n1', 'n3', 5_000);
    await sleep(300);
    network.heal();
    const late = await pending;
    expect(late).toMatchObject({ kind: 'ok', body: 'n3' });
    expect(late.ms).toBeGreaterThanOrEqual(290);
    expect(await via('n3', 'n1')).toMatchObject({ kind: 'ok', body: 'n1' });
  });

  it('names the unnamed nodes a group of their own and rejects unknown nodes', async () => {
    const { network, via } = await threeNodes();
    network.partition([['n1']]);
    expect(await via('n2', 'n3')).toMatchObject({ kind: 'ok' });
    expect((await via('n2', 'n1')).kind).toBe('timeout');
    expect(() => network.partition([['n1'], ['n9']])).toThrow(ProxyFaultError);
    expect(() => network.partition([['n1'], ['n1', 'n2']])).toThrow(/two groups/);
    expect(() => network.latency('n1', 'n1', 5)).toThrow(ProxyFaultError);
    expect(() => network.latency('n1', 'n2', -5)).toThrow(/latencyMs/);
  });

  it('a one-way cut stalls requests one way only', async () => {
    const { network, via } = await threeNodes();
    network.cut([['n1', 'n2']]);
    expect((await via('n1', 'n2')).kind).toBe('timeout');
    // n2's requests to n1 go through, but n1's answers travel n1 -> n2: they are held too.
    expect((await via('n2', 'n1')).kind).toBe('timeout');
    expect(await via('n2', 'n3')).toMatchObject({ kind: 'ok' });
  });

  it('blackhole accepts connections and forwards nothing until healed', async () => {
    const { network, via } = await threeNodes();
    network.blackhole(CLIENT, 'n1');
    const stalled = await via(CLIENT, 'n1', 600);
    expect(stalled.kind).toBe('timeout');
    expect(stalled.ms).toBeGreaterThanOrEqual(590);
    expect(network.status().find((l) => l.from === CLIENT && l.to === 'n1')?.forward.mode).toBe('blackhole');
    network.heal();
    expect(await via(CLIENT, 'n1')).toMatchObject({ kind: 'ok', body: 'n1' });
  });

  it('refuse resets every connection at once; resetConnections drops the open ones once', async () => {
    const { network, via } = await threeNodes();
    network.refuse(CLIENT, 'n2');
    const refused = await via(CLIENT, 'n2', 2_000);
    expect(refused.kind).toBe('error');
    expect(refused.ms).toBeLessThan(500);
    network.heal();
    expect(await via(CLIENT, 'n2')).toMatchObject({ kind: 'ok' });

    network.blackhole(CLIENT, 'n2');
    const held = via(CLIENT, 'n2', 2_000);
    await sleep(100);
    expect(network.resetConnections(CLIENT, 'n2')).toBe(1);
    expect((await held).kind).toBe('error');
  });

  it('a link to a dead target looks like a reset, not a hang', async () => {
    const dead = await namedHttpServer('gone');
    const port = dead.port;
    await dead.close();
    const network = await ProxyNetwork.start({ links: [{ from: CLIENT, to: 'n1', targetPort: port }] });
    cleanups.push(() => network.close());
    const outcome = await get(network.link(CLIENT, 'n1').port, 2_000);
    expect(outcome.kind).toBe('error');
  });
});
