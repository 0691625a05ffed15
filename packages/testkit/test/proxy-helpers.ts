// Small real servers and clients for the proxy tests: a TCP echo server, HTTP servers that name
// themselves, and a GET with a deadline that tells a stall from a failure.
import http from 'node:http';
import net from 'node:net';

export interface Closable {
  port: number;
  close(): Promise<void>;
}

export async function echoServer(): Promise<Closable> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export async function namedHttpServer(name: string): Promise<Closable> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end(name));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type GetOutcome = { kind: 'ok'; body: string; ms: number } | { kind: 'timeout' | 'error'; ms: number };

/** One GET on a fresh connection (no keep-alive pool, so no test leaks into the next). */
export function get(port: number, timeoutMs: number): Promise<GetOutcome> {
  const start = performance.now();
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ kind: 'ok', body, ms: performance.now() - start }));
      res.on('error', () => resolve({ kind: 'error', ms: performance.now() - start }));
    });
    req.setTimeout(timeoutMs, () => {
      resolve({ kind: 'timeout', ms: performance.now() - start });
      req.destroy();
    });
    req.on('error', () => resolve({ kind: 'error', ms: performance.now() - start }));
  });
}

/** A connected socket that answers `roundTrip(bytes)` with the time until they all came back. */
export async function echoClient(port: number) {
  const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let received = Buffer.alloc(0);
  let waiter: { bytes: number; resolve: () => void } | null = null;
  socket.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    if (waiter && received.length >= waiter.bytes) waiter.resolve();
  });
  return {
    socket,
    /** Sends `payload`, resolves when as many bytes came back, with the elapsed ms and the bytes. */
    async roundTrip(payload: Buffer): Promise<{ ms: number; echoed: Buffer }> {
      received = Buffer.alloc(0);
      const start = performance.now();
      const done = new Promise<void>((resolve) => (waiter = { bytes: payload.length, resolve }));
      socket.write(payload);
      await done;
      waiter = null;
      return { ms: performance.now() - start, echoed: received };
    },
    close: () => socket.destroy(),
  };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
