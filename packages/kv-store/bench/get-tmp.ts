import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { runLoad } from './load.js';
import { MAIN_JS } from './systems.js';
const eng = process.argv[2] ?? 'memory';
const child = spawn(process.execPath, [...(process.env.PROF ? ['--cpu-prof', '--cpu-prof-dir', '/tmp/prof2'] : []), MAIN_JS, '--id', 'n1', '--port', '7641', '--log-level', 'warn', '--engine', eng, ...(eng === 'memory' ? [] : ['--data-dir', mkdtempSync('/tmp/kvg-')])], { stdio: 'inherit' });
for (;;) { try { if ((await fetch('http://127.0.0.1:7641/ready')).status === 200) break; } catch {} await new Promise((r) => setTimeout(r, 100)); }
const value = Buffer.alloc(256, 'x');
for (let i = 0; i < 100; i++) await fetch(`http://127.0.0.1:7641/kv/key${i}`, { method: 'PUT', body: value });
const cpuOf = (pid: number) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return (Number(f[11]) + Number(f[12])) * 10; };
for (const [name, mk] of [
  ['sget', (i: number) => ({ origin: 'http://127.0.0.1:7641', method: 'GET' as const, path: `/kv/key${i % 100}?consistency=serializable` })],
  ['get', (i: number) => ({ origin: 'http://127.0.0.1:7641', method: 'GET' as const, path: `/kv/key${i % 100}` })],
  ['put', (i: number) => ({ origin: 'http://127.0.0.1:7641', method: 'PUT' as const, path: `/kv/key${i % 100}`, body: value, headers: { 'content-type': 'application/octet-stream' } })],
  ['health', (_i: number) => ({ origin: 'http://127.0.0.1:7641', method: 'GET' as const, path: '/health' })],
] as const) {
  const b = cpuOf(child.pid!);
  const r = await runLoad({ clients: 16, durationMs: 3000, next: (c, i) => mk(c * 1000 + i) });
  const used = cpuOf(child.pid!) - b;
  console.log(eng, name, r.opsPerSecond.toFixed(0), 'req/s', ((used * 1000) / r.ops).toFixed(0), 'us cpu/req', r.errors);
}
child.kill('SIGTERM'); await new Promise((r) => setTimeout(r, 1500));
