import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { Pool } from 'undici';

const dir = mkdtempSync('/tmp/kvs-');
const eng = process.argv[2] ?? 'lsm';
const k = spawn(
  process.execPath,
  [
    '/work/main/packages/kv-store/dist/main.js',
    '--id',
    'n1',
    '--port',
    '7621',
    '--data-dir',
    dir,
    '--log-level',
    'warn',
    '--engine',
    eng,
  ],
  { stdio: 'inherit' },
);
for (;;) {
  try {
    if ((await fetch('http://127.0.0.1:7621/ready')).status === 200) break;
  } catch {}
  await new Promise((r) => setTimeout(r, 100));
}
const pool = new Pool('http://127.0.0.1:7621');
const value = Buffer.alloc(256, 'x');
const lat = [];
for (let i = 0; i < 400; i++) {
  const t = performance.now();
  const r = await pool.request({ method: 'PUT', path: `/kv/k${i % 50}`, body: value });
  await r.body.arrayBuffer();
  if (i >= 20) lat.push(performance.now() - t);
}
lat.sort((a, b) => a - b);
console.log(
  eng,
  'single-node write p50',
  lat[lat.length >> 1].toFixed(2),
  'p90',
  lat[Math.floor(lat.length * 0.9)].toFixed(2),
);
await pool.close();
k.kill('SIGKILL');
