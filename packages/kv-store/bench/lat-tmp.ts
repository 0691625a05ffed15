import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from 'undici';
import { MAIN_JS } from './systems.js';

const dir = mkdtempSync('/tmp/kvl-');
const ports = [7611, 7612, 7613];
const urls = ports.map((p) => `http://127.0.0.1:${p}`);
const peers = urls.map((u, i) => `n${i + 1}=${u}`).join(',');
const extra = process.argv.slice(2);
const kids = ports.map((p, i) =>
  spawn(
    process.execPath,
    [
      MAIN_JS,
      '--id',
      `n${i + 1}`,
      '--port',
      String(p),
      '--peers',
      peers,
      '--data-dir',
      join(dir, `n${i + 1}`),
      '--log-level',
      'warn',
      ...extra,
    ],
    { stdio: 'ignore' },
  ),
);
for (;;) {
  try {
    const r = await Promise.all(urls.map((u) => fetch(`${u}/ready`)));
    if (r.every((x) => x.status === 200)) break;
  } catch {}
  await new Promise((r) => setTimeout(r, 100));
}
let leader = -1;
for (let i = 0; i < 3; i++) {
  const s = (await (await fetch(`${urls[i]}/cluster/node`)).json()) as { role: string };
  if (s.role === 'leader') leader = i;
}
const value = Buffer.alloc(256, 'x');
for (const [name, idx] of [
  ['leader', leader],
  ['follower', (leader + 1) % 3],
] as const) {
  const pool = new Pool(urls[idx]!);
  const lat: number[] = [];
  for (let i = 0; i < 300; i++) {
    const t = performance.now();
    const r = await pool.request({ method: 'PUT', path: `/kv/k${i % 50}`, body: value });
    await r.body.arrayBuffer();
    if (i >= 20) lat.push(performance.now() - t);
  }
  lat.sort((a, b) => a - b);
  console.log(
    name,
    'p50',
    lat[lat.length >> 1]!.toFixed(2),
    'p90',
    lat[Math.floor(lat.length * 0.9)]!.toFixed(2),
  );
  const rl: number[] = [];
  for (let i = 0; i < 300; i++) {
    const t = performance.now();
    const r = await pool.request({ method: 'GET', path: `/kv/k${i % 50}` });
    await r.body.arrayBuffer();
    if (i >= 20) rl.push(performance.now() - t);
  }
  rl.sort((a, b) => a - b);
  console.log(name, 'read p50', rl[rl.length >> 1]!.toFixed(2));
  await pool.close();
}
for (const k of kids) k.kill('SIGKILL');
