// A fastify app on loopback serving only registerRaftRoutes: what a Raft node's HTTP side is,
// for tests of the HTTP transport.
import Fastify, { type FastifyInstance } from 'fastify';
import { type Message, registerRaftRoutes } from '../../src/index.js';

export async function listenRaftApp(
  receive: (messages: Message[]) => void,
): Promise<{ app: FastifyInstance; url: string }> {
  const app = Fastify({ bodyLimit: 1024 * 1024 });
  registerRaftRoutes(app, { receive });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  if (!addr || typeof addr === 'string') throw new Error('no port');
  return { app, url: `http://127.0.0.1:${addr.port}` };
}
