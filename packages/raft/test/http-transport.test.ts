// Raft over real HTTP on loopback: three fastify apps, each mounting registerRaftRoutes, each
// node talking through HttpTransport's message streams. Also: upgrades that are not ours get
// problem+json, a corrupt frame ends its stream, and a snapshot larger than one chunk crosses in pieces.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import {
  emptyMessage,
  encodeMessages,
  FRAME_HEADER_BYTES,
  HttpTransport,
  MemoryStorage,
  RaftNode,
  registerRaftRoutes,
  SNAPSHOT_CHUNK_BYTES,
  SnapshotAssembler,
  STREAM_PATH,
  STREAM_PROTOCOL,
  sealFrame,
} from '../src/index.js';
import { cmd, KvMachine, until } from './support/kv-machine.js';
import { listenRaftApp } from './support/raft-app.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('HTTP transport', () => {
  it('a 3-node cluster elects, replicates and reads over HTTP; a lagging node gets a chunked snapshot', async () => {
    // Routes must be registered before listen, so pre-create apps with a late-bound receiver.
    const ids = ['n1', 'n2', 'n3'];
    const receivers = new Map<string, RaftNode>();
    const servers = await Promise.all(
      ids.map(async (id) => {
        const { app, url } = await listenRaftApp((msgs) => receivers.get(id)?.receive(msgs));
        cleanups.push(() => app.close());
        return { id, url };
      }),
    );
    const members = servers.map((s) => ({ id: s.id, url: s.url }));
    const machines = new Map<string, KvMachine>();
    const start = async (id: string) => {
      const machine = new KvMachine();
      machines.set(id, machine);
      const node = await RaftNode.start({
        id,
        members,
        storage: new MemoryStorage(),
        transport: new HttpTransport({
          self: id,
          peers: Object.fromEntries(members.map((m) => [m.id, m.url])),
        }),
        stateMachine: machine,
        tickMs: 20,
        snapshotEntries: 5,
      });
      receivers.set(id, node);
      cleanups.push(() => node.stop());
      return node;
    };
    const nodes = await Promise.all(['n1', 'n2'].map(start));
    await until('leader over HTTP', () => nodes.some((n) => n.isLeader));
    const leader = nodes.find((n) => n.isLeader) as RaftNode;
    // A value bigger than a snapshot chunk, so the snapshot to n3 needs several chunks.
    const big = 'x'.repeat(SNAPSHOT_CHUNK_BYTES + 1000);
    await leader.propose(cmd(`big=${big}`));
    for (let i = 0; i < 10; i++) await leader.propose(cmd(`k${i}=${i}`));
    await leader.snapshotNow();
    const n3 = await start('n3');
    await until('n3 catches up by snapshot', () => machines.get('n3')?.data.get('k9') === '9', 15_000);
    expect(machines.get('n3')?.restores).toBe(1);
    expect(machines.get('n3')?.data.get('big')).toBe(big);
    const readAt = await n3.readIndex({ timeoutMs: 5000 });
    expect(readAt).toBeGreaterThan(10);
  });

  it('stream upgrades that are not ours get problem+json; a corrupt frame ends the stream, nothing is delivered', async () => {
    const app = Fastify();
    const received: unknown[] = [];
    const stats = registerRaftRoutes(app, { receive: (m) => received.push(...m) });
    await app.listen({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => app.close());
    const port = (app.server.address() as AddressInfo).port;
    const upgrade = (path: string, protocol: string) =>
      new Promise<{ status: number; body: string } | { socket: Socket }>((resolve, reject) => {
        const req = http.request({
          port,
          host: '127.0.0.1',
          path,
          agent: false,
          headers: { connection: 'Upgrade', upgrade: protocol },
        });
        req.on('upgrade', (_res, socket) => resolve({ socket }));
        req.on('response', async (res) => {
          let body = '';
          for await (const chunk of res) body += chunk;
          expect(res.headers['content-type']).toContain('application/problem+json');
          resolve({ status: res.statusCode ?? 0, body });
        });
        req.on('error', reject);
        req.end();
      });
    const wrongProtocol = await upgrade(STREAM_PATH, 'websocket');
    expect(wrongProtocol).toMatchObject({ status: 400 });
    expect(JSON.parse((wrongProtocol as { body: string }).body).code).toBe('DDIA_ERR_RAFT_BAD_REQUEST');
    expect(await upgrade('/elsewhere', STREAM_PROTOCOL)).toMatchObject({ status: 404 });
    // The 404 is the server's upgrade dispatcher's (no stream lives there), not Raft's refusal.
    expect(stats.refused).toBe(1);

    // A good frame is delivered; a frame whose checksum is wrong closes the stream.
    const opened = (await upgrade(STREAM_PATH, STREAM_PROTOCOL)) as { socket: Socket };
    const heartbeat = { ...emptyMessage('heartbeat', 'n1', 'n2', 3), commit: 7 };
    opened.socket.write(sealFrame(encodeMessages([heartbeat], FRAME_HEADER_BYTES)));
    await until('frame delivered', () => received.length === 1);
    expect(received[0]).toEqual(heartbeat);
    const corrupt = sealFrame(encodeMessages([heartbeat], FRAME_HEADER_BYTES));
    corrupt[corrupt.length - 1] ^= 0xff;
    const closed = new Promise((resolve) => opened.socket.once('close', resolve));
    opened.socket.write(corrupt);
    await closed;
    expect(stats.badFrames).toBe(1);
    expect(received).toHaveLength(1);
    await until('stream counted closed', () => stats.streamsOpen === 0);
  });

  it('snapshot chunks out of order are refused', () => {
    const a = new SnapshotAssembler();
    const message = {
      type: 'snap',
      from: 'n1',
      to: 'n2',
      term: 2,
      logTerm: 0,
      index: 0,
      entries: [],
      commit: 0,
      reject: false,
      hintIndex: 0,
      hintTerm: 0,
      context: '',
      snapshotMeta: { index: 9, term: 2, conf: { members: [{ id: 'n1', voter: true }] } },
    };
    expect(() => a.add({ message, offset: 4, totalBytes: 8, chunk: 'AAAA' })).toThrow(/out of sequence/);
    expect(
      a.add({ message, offset: 0, totalBytes: 6, chunk: Buffer.from('abc').toString('base64') }),
    ).toBeNull();
    const done = a.add({ message, offset: 3, totalBytes: 6, chunk: Buffer.from('def').toString('base64') });
    expect(new TextDecoder().decode(done?.snapshot?.data)).toBe('abcdef');
    expect(done?.snapshot?.meta.index).toBe(9);
  });
});
