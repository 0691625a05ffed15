// The peer stream's contract, as one suite every sender mode runs (Raft sends one frame per
// call, replication one per event-loop turn): frames survive any chunking and refuse damage;
// messages arrive in order from the named sender; a peer that is down at first, or whose
// stream is cut, gets the queued messages once it is back (redial with backoff); the queue is
// bounded; bad frames and improper upgrades are refused; a server with open streams closes.
import net from 'node:net';
import {
  acceptPeerStreams,
  encodeFrame,
  FRAME_HEADER_BYTES,
  FrameReader,
  PeerStreamFrameError,
  type PeerStreamReceiverOptions,
  PeerStreamSender,
  pollUntil,
  SeededRandom,
} from '@ddia/common';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';

const PROTOCOL = { path: '/test/stream', protocol: 'ddia-test/1', fromHeader: 'x-test-from' };

interface Msg {
  n: number;
  text: string;
}

/** A compact binary encoding, to show that the payload is the caller's business. */
function encode(messages: readonly Msg[], headerBytes: number): Buffer {
  const body = Buffer.from(JSON.stringify(messages));
  const out = Buffer.allocUnsafe(headerBytes + body.length);
  body.copy(out, headerBytes);
  return out;
}

function decode(payload: Buffer): Msg[] {
  const value = JSON.parse(payload.toString('utf8'));
  if (!Array.isArray(value)) throw new Error('not a batch');
  return value as Msg[];
}

const wait = (what: string, check: () => boolean) =>
  pollUntil(() => check(), { timeoutMs: 15_000, intervalMs: 10, what });

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function receiver(
  port = 0,
  extra: Partial<PeerStreamReceiverOptions<Msg>> = {},
  setup: (app: FastifyInstance) => void = () => {},
): Promise<{
  app: FastifyInstance;
  url: string;
  got: { from: string; m: Msg }[];
  stats: ReturnType<typeof acceptPeerStreams>;
}> {
  const app = Fastify();
  const got: { from: string; m: Msg }[] = [];
  const stats = acceptPeerStreams<Msg>(app, {
    ...PROTOCOL,
    decode,
    deliver: (from, messages) => {
      for (const m of messages) got.push({ from, m });
    },
    accepts: (from) => from === 'a' || from === 'b',
    ...extra,
  });
  setup(app);
  const address = await app.listen({ host: '127.0.0.1', port });
  cleanups.push(() => app.close());
  return { app, url: address, got, stats };
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function sender(url: string, coalesce: 'call' | 'tick', extra = {}): PeerStreamSender<Msg> {
  const s = new PeerStreamSender<Msg>({
    ...PROTOCOL,
    self: 'a',
    peers: [['b', url]],
    encode,
    coalesce,
    random: new SeededRandom(1),
    ...extra,
  });
  cleanups.push(() => s.close());
  return s;
}

const msg = (n: number): Msg => ({ n, text: `m${n}` });

describe('peer stream frames', () => {
  it('match the documented bytes: length LE, CRC32C LE, payload', () => {
    // CRC32C("hi") = 0xf59dd9c2 (Castagnoli, as iSCSI's RFC 3720; computed independently)
    expect(encodeFrame(Buffer.from('hi')).toString('hex')).toBe('02000000' + 'c2d99df5' + '6869');
  });

  it('reassemble from chunks cut anywhere, in order (seeded)', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const random = new SeededRandom(seed);
      const payloads = Array.from({ length: random.int(1, 10) }, (_, i) =>
        Buffer.from(`${i}:${'x'.repeat(random.int(0, 2000))}`),
      );
      const stream = Buffer.concat(payloads.map(encodeFrame));
      const reader = new FrameReader();
      const out: string[] = [];
      for (let at = 0; at < stream.length; ) {
        const size = random.int(1, 600);
        out.push(...reader.push(stream.subarray(at, at + size)).map(String));
        at += size;
      }
      expect(out).toEqual(payloads.map(String));
    }
  });

  it('refuse a flipped byte and an oversized length', () => {
    const frame = encodeFrame(Buffer.from('payload'));
    frame[FRAME_HEADER_BYTES + 1] = (frame[FRAME_HEADER_BYTES + 1] ?? 0) ^ 1;
    expect(() => new FrameReader().push(frame)).toThrow(PeerStreamFrameError);
    const header = Buffer.alloc(FRAME_HEADER_BYTES);
    header.writeUInt32LE(1_001, 0);
    expect(() => new FrameReader(1_000).push(header)).toThrow(/exceeds/);
  });
});

for (const coalesce of ['call', 'tick'] as const) {
  describe(`peer stream sender (coalesce: '${coalesce}')`, () => {
    it('delivers every message in send order, from the named sender', async () => {
      const r = await receiver();
      const s = sender(r.url, coalesce);
      for (let i = 0; i < 200; i++) s.send('b', [msg(2 * i), msg(2 * i + 1)]);
      await wait('400 messages', () => r.got.length === 400);
      expect(r.got.map((g) => g.m.n)).toEqual(Array.from({ length: 400 }, (_, i) => i));
      expect(new Set(r.got.map((g) => g.from))).toEqual(new Set(['a']));
      expect(s.stats.messages).toBe(400);
      expect(r.stats.messages).toBe(400);
      expect(r.stats.frames).toBe(s.stats.frames);
      // With the stream up, three sends in one turn: three frames, or one when coalesced.
      const framesBefore = s.stats.frames;
      for (let i = 400; i < 403; i++) s.send('b', [msg(i)]);
      await wait('3 more messages', () => r.got.length === 403);
      expect(s.stats.frames - framesBefore).toBe(coalesce === 'call' ? 3 : 1);
    });

    it('queues while the peer is down and delivers once it is up (redials with backoff)', async () => {
      const port = await freePort();
      const s = sender(`http://127.0.0.1:${port}`, coalesce);
      s.send('b', [msg(1)]);
      await wait('a failed dial', () => s.stats.dialFailures >= 1);
      s.send('b', [msg(2)]);
      const r = await receiver(port);
      await wait('the queued messages', () => r.got.length === 2);
      expect(r.got.map((g) => g.m.n)).toEqual([1, 2]);
      expect(s.isOpen('b')).toBe(true);
    });

    it('redials after the stream is cut, and later messages arrive', async () => {
      const first = await receiver();
      const port = Number(new URL(first.url).port);
      const s = sender(first.url, coalesce);
      s.send('b', [msg(1)]);
      await wait('the first message', () => first.got.length === 1);
      await first.app.close(); // destroys the stream (preClose)
      await wait('the stream to drop', () => !s.isOpen('b'));
      const second = await receiver(port);
      s.send('b', [msg(2)]);
      await wait('the message after the cut', () => second.got.length === 1);
      expect(second.got[0]?.m.n).toBe(2);
      expect(s.stats.dials).toBeGreaterThanOrEqual(2);
    });

    it('keeps at most queueMessagesMax while down, dropping the oldest', async () => {
      const port = await freePort();
      const s = sender(`http://127.0.0.1:${port}`, coalesce, { queueMessagesMax: 10 });
      for (let i = 0; i < 25; i++) s.send('b', [msg(i)]);
      s.send('nobody', [msg(99)]);
      expect(s.stats.dropped).toBe(16); // 15 over the bound + 1 for an unknown peer
      const r = await receiver(port);
      await wait('the kept messages', () => r.got.length === 10);
      expect(r.got.map((g) => g.m.n)).toEqual(Array.from({ length: 10 }, (_, i) => 15 + i));
    });
  });
}

describe('peer stream receiver', () => {
  async function upgrade(
    url: string,
    path: string,
    headers: Record<string, string>,
  ): Promise<{ head: string; socket: net.Socket }> {
    const { hostname, port } = new URL(url);
    const socket = net.connect(Number(port), hostname);
    cleanups.push(async () => socket.destroy());
    const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`);
    socket.write(`GET ${path} HTTP/1.1\r\nhost: x\r\nconnection: Upgrade\r\n${lines.join('')}\r\n`);
    const head = await new Promise<string>((resolve) => socket.once('data', (d) => resolve(String(d))));
    return { head, socket };
  }

  it('refuses improper upgrades with problem+json: wrong path 404, wrong protocol or stranger 400', async () => {
    const r = await receiver();
    const notFound = await upgrade(r.url, '/elsewhere', { upgrade: PROTOCOL.protocol, 'x-test-from': 'a' });
    expect(notFound.head).toMatch(/^HTTP\/1.1 404/);
    expect(notFound.head).toContain('application/problem+json');
    const wrong = await upgrade(r.url, PROTOCOL.path, { upgrade: 'h2c', 'x-test-from': 'a' });
    expect(wrong.head).toMatch(/^HTTP\/1.1 400/);
    const stranger = await upgrade(r.url, PROTOCOL.path, {
      upgrade: PROTOCOL.protocol,
      'x-test-from': 'mallory',
    });
    expect(stranger.head).toMatch(/^HTTP\/1.1 400/);
    expect(r.stats.refused).toBe(2); // the 404 is the server's, not this protocol's
  });

  it('ends a stream on a damaged frame or an undecodable payload; the good frames before it count', async () => {
    const r = await receiver();
    for (const damage of ['checksum', 'payload'] as const) {
      const { head, socket } = await upgrade(r.url, PROTOCOL.path, {
        upgrade: PROTOCOL.protocol,
        'x-test-from': 'a',
      });
      expect(head).toMatch(/^HTTP\/1.1 101/);
      const good = encodeFrame(Buffer.from(JSON.stringify([msg(7)])));
      const bad = encodeFrame(
        Buffer.from(damage === 'payload' ? '{"not":"a batch"}' : JSON.stringify([msg(8)])),
      );
      if (damage === 'checksum') bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 0xff;
      socket.write(good);
      await wait('the good frame', () => r.got.length >= 1);
      socket.write(bad);
      await new Promise((resolve) => socket.once('close', resolve));
    }
    expect(r.stats.badFrames).toBe(2);
    expect(r.got.map((g) => g.m.n)).toEqual([7, 7]);
  });

  it('serves two protocols on one port, and closes with streams open', async () => {
    const other: number[] = [];
    const r = await receiver(0, {}, (app) =>
      acceptPeerStreams<Msg>(app, {
        path: '/other/stream',
        protocol: 'ddia-other/1',
        fromHeader: 'x-other-from',
        decode,
        deliver: (_from, messages) => other.push(...messages.map((m) => m.n)),
      }),
    );
    const s1 = sender(r.url, 'call');
    const s2 = new PeerStreamSender<Msg>({
      path: '/other/stream',
      protocol: 'ddia-other/1',
      fromHeader: 'x-other-from',
      self: 'z',
      peers: [['b', r.url]],
      encode,
    });
    cleanups.push(() => s2.close());
    s1.send('b', [msg(1)]);
    s2.send('b', [msg(2)]);
    await wait('both protocols', () => r.got.length === 1 && other.length === 1);
    expect(other).toEqual([2]);
    expect(r.stats.streamsOpen).toBe(1);
    await r.app.close(); // would hang if the upgraded sockets outlived it
    await wait('the stream to close', () => r.stats.streamsOpen === 0);
  });
});
