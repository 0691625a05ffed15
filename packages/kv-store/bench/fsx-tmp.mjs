import { FileStorage } from '@ddia/raft';
import { mkdtempSync } from 'node:fs';
for (const io of ['inline', 'pool']) {
const st = await FileStorage.open({ dir: mkdtempSync('/tmp/fsx-'), io });
await st.load();
let idx = 1;
const data = new Uint8Array(300);
const c = process.cpuUsage(); const t = performance.now();
const N = 600, PER = 18;
for (let i = 0; i < N; i++) {
  const entries = Array.from({ length: PER }, () => ({ index: idx++, term: 1, type: 'normal', data }));
  await st.save({ snapshot: null, entries, hardState: { term: 1, vote: 'n1', commit: idx - 20 } });
}
const u = process.cpuUsage(c);
console.log(io, 'per save: wall', ((performance.now() - t) / N).toFixed(3), 'ms, cpu', ((u.user + u.system) / N / 1000).toFixed(3), 'ms (user', (u.user / N / 1000).toFixed(3), ')');
await st.close();
}
