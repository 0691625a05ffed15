import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from 'undici';
import { MAIN_JS } from './systems.js';
const clients = Number(process.argv[2] ?? 64);
const secs = Number(process.argv[3] ?? 6);
const dir = mkdtempSync('/tmp/kvq-');
const ports = [7651, 7652, 7653];
const urls = ports.map((p) => `http://127.0.0.1:${p}`);
const peers = urls.map((u, i) => `n${i + 1}=${u}`).join(',');
const kids = ports.map((p, i) => spawn(process.execPath, [MAIN_JS, '--id', `n${i + 1}`, '--port', String(p), '--peers', peers, '--data-dir', join(dir, `n${i + 1}`), '--log-level', 'warn', ...process.argv.slice(4)], { stdio: 'ignore' }));
for (;;) { try { const r = await Promise.all(urls.map((u) => fetch(`${u}/ready`))); if (r.every((x) => x.status === 200)) break; } catch {} await new Promise((r) => setTimeout(r, 100)); }
let leader = -1;
for (let i = 0; i < 3; i++) { const s = await (await fetch(`${urls[i]}/cluster/node`)).json() as {role:string}; if (s.role === 'leader') leader = i; }
const pools = urls.map((u) => new Pool(u, { connections: clients }));
const value = Buffer.alloc(256, 'x');
const lat: number[][] = [[], [], []];
const timeline: [number, number][] = [];
const start = performance.now(); const end = start + secs * 1000;
await Promise.all(Array.from({ length: clients }, async (_, c) => {
  for (let i = 0; performance.now() < end; i++) {
    const n = (c + i) % 3; const t = performance.now();
    const r = await pools[n]!.request({ method: 'PUT', path: `/kv/key${(c * 7919 + i * 104729) % 1000}`, body: value });
    await r.body.arrayBuffer();
    const d = performance.now() - t; lat[n]!.push(d); timeline.push([t - start, d]);
  }
}));
for (let n = 0; n < 3; n++) { const l = lat[n]!.sort((a, b) => a - b); console.log(n === leader ? 'leader  ' : 'follower', 'n', l.length, 'p50', l[l.length >> 1]!.toFixed(1), 'p99', l[Math.floor(l.length * 0.99)]!.toFixed(1), 'max', l[l.length - 1]!.toFixed(1)); }
// slow requests by 250 ms bucket
const buckets = new Map<number, number>();
for (const [t, d] of timeline) if (d > 60) buckets.set(Math.floor(t / 250), (buckets.get(Math.floor(t / 250)) ?? 0) + 1);
console.log('slow(>60ms) per 250ms bucket:', [...buckets].sort((a, b) => a[0] - b[0]).map(([b, n]) => `${b * 0.25}s:${n}`).join(' '));
for (const k of kids) k.kill('SIGKILL');
await Promise.all(pools.map((p) => p.close()));
