import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { runLoad } from './load.js';
import { MAIN_JS } from './systems.js';

const clients = Number(process.argv[2] ?? 64);
const secs = Number(process.argv[3] ?? 8);
const prof = process.argv.includes('--prof');
const dir = mkdtempSync('/tmp/kvp-');
const ports = [7601, 7602, 7603];
const urls = ports.map((p) => `http://127.0.0.1:${p}`);
const peers = urls.map((u, i) => `n${i + 1}=${u}`).join(',');
const kids = ports.map((p, i) =>
  spawn(
    process.execPath,
    [
      ...(prof ? ['--cpu-prof', '--cpu-prof-dir', '/tmp/prof'] : []),
      MAIN_JS,
      '--id',
      `n${i + 1}`,
      '--port',
      String(p),
      '--peers',
      peers,
      ...(process.env.MEM ? ['--engine', 'memory'] : ['--data-dir', join(dir, `n${i + 1}`)]),
      ...(process.env.ENGINE ? ['--engine', process.env.ENGINE] : []),
      '--log-level',
      'warn',
    ],
    { stdio: 'inherit' },
  ),
);
for (;;) {
  try {
    const r = await Promise.all(urls.map((u) => fetch(`${u}/ready`)));
    if (r.every((x) => x.status === 200)) break;
  } catch {}
  await new Promise((r) => setTimeout(r, 100));
}
const value = Buffer.alloc(256, 'x');
const mode = process.argv[4] ?? 'write';

import { readFileSync } from 'node:fs';

const cpuOf = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
};
const before = kids.map((k) => cpuOf(k.pid!));
const t0 = process.cpuUsage();
const r = await runLoad({
  clients,
  durationMs: secs * 1000,
  next: (c, i) => {
    const origin = process.env.TARGET ? urls[Number(process.env.TARGET)]! : urls[(c + i) % 3]!;
    const key = `key${(c * 7919 + i * 104729) % 1000}`;
    return mode === 'write'
      ? {
          origin,
          method: 'PUT',
          path: `/kv/${key}`,
          body: value,
          headers: { 'content-type': 'application/octet-stream' },
        }
      : {
          origin,
          method: 'GET',
          path: mode === 'sread' ? `/kv/${key}?consistency=serializable` : `/kv/${key}`,
        };
  },
});
const cpu = process.cpuUsage(t0);
const after = kids.map((k) => cpuOf(k.pid!));
console.log(JSON.stringify(r), 'loadgen cpu ms', (cpu.user + cpu.system) / 1000);
console.log(
  'node cpu ms',
  after.map((a, i) => a - before[i]!),
  'cpu us per op per node',
  after.map((a, i) => (((a - before[i]!) * 1000) / r.ops).toFixed(0)),
);
// METRICS
for (const u of urls) { const m = await (await fetch(`${u}/metrics`)).text(); console.log(u, m.split('\n').filter((l) => /^kv_forward|^kv_raft_is_leader|^kv_raft_(ready|log|messages)/.test(l)).join(' | ')); }
for (const k of kids) k.kill('SIGTERM');
await new Promise((r) => setTimeout(r, 1500));
