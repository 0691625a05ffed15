import { runLoad } from './load.js';
import { startEtcd } from './systems.js';

const clients = Number(process.argv[2] ?? 64);
const secs = Number(process.argv[3] ?? 8);
const sys = await startEtcd('/usr/bin/etcd');
const value = Buffer.alloc(256, 'x');
const mode = process.argv[4] ?? 'write';

import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const pids = execSync('pgrep -x etcd').toString().trim().split('\n').map(Number);
const cpuOf = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
};
const before = pids.map(cpuOf);
const r = await runLoad({
  clients,
  durationMs: secs * 1000,
  next: (c, i) => {
    const origin = sys.urls[(c + i) % 3]!;
    const key = `key${(c * 7919 + i * 104729) % 1000}`;
    return mode === 'write' ? sys.put(origin, key, value) : sys.get(origin, key);
  },
});
const after = pids.map(cpuOf);
console.log(JSON.stringify(r));
console.log(
  'etcd cpu ms',
  after.map((a, i) => a - before[i]!),
  'us/op/node',
  after.map((a, i) => (((a - before[i]!) * 1000) / r.ops).toFixed(0)),
);
await sys.close();
