import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { runLoad } from './load.js';
if (process.argv[2] === 'child') {
  const kind = process.argv[3];
  if (kind === 'bare') {
    const { default: Fastify } = await import('fastify');
    const app = Fastify();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_r, b, d) => d(null, b));
    app.put('/kv/*', async (req, reply) => { reply.header('etag', '"1"'); return reply.code(200).send({ ok: true }); });
    await app.listen({ port: 7631, host: '127.0.0.1' });
  } else {
    const { createService, parseConfig, withRawBodies } = await import('@ddia/common');
    const config = parseConfig(['--port', '7631', '--log-level', 'warn'], {}, {});
    const service = await createService({ name: 'x', config });
    service.app.register(async (scope) => { withRawBodies(scope); scope.put('/kv/*', async (req, reply) => { reply.header('etag', '"1"'); return reply.code(200).send({ ok: true }); }); });
    await service.listen();
  }
  process.send?.('ready');
} else {
  for (const kind of ['bare', 'service']) {
    const child = fork(new URL(import.meta.url).pathname, ['child', kind], { execArgv: ['--import', 'tsx'] });
    await new Promise((r) => child.once('message', r));
    const cpuOf = (pid: number) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return (Number(f[11]) + Number(f[12])) * 10; };
    const value = Buffer.alloc(256, 'x');
    await runLoad({ clients: 16, durationMs: 1000, next: () => ({ origin: 'http://127.0.0.1:7631', method: 'PUT', path: '/kv/a', body: value, headers: { 'content-type': 'application/octet-stream' } }) });
    const b = cpuOf(child.pid!);
    const r = await runLoad({ clients: 16, durationMs: 4000, next: () => ({ origin: 'http://127.0.0.1:7631', method: 'PUT', path: '/kv/a', body: value, headers: { 'content-type': 'application/octet-stream' } }) });
    const used = cpuOf(child.pid!) - b;
    console.log(kind, r.opsPerSecond.toFixed(0), 'req/s', ((used * 1000) / r.ops).toFixed(0), 'us cpu/req');
    child.kill();
  }
}
