import { Pool } from 'undici';
for (const [label, port, q, method] of [['leader lin', process.argv[2], '', 'GET'], ['leader ser', process.argv[2], '?consistency=serializable', 'GET'], ['follower lin', process.argv[3], '', 'GET'], ['leader put', process.argv[2], '', 'PUT'], ['follower put', process.argv[3], '', 'PUT']]) {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 1 }); const t = [];
  for (let i = 0; i < 60; i++) { const s = performance.now(); const r = await pool.request({ method, path: `/kv/x${q}`, ...(method === 'PUT' ? { body: 'v' } : {}) }); await r.body.text(); t.push(performance.now() - s); }
  t.sort((a, b) => a - b); console.log(process.argv[4], label, 'p50', t[30].toFixed(1), 'p90', t[54].toFixed(1)); await pool.close();
}
