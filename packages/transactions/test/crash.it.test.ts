// Durability with a real SIGKILL: a commit acknowledged over HTTP survives; a transaction
// that was open or unacknowledged at the kill is either wholly there or wholly absent.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pollUntil } from '@ddia/common';
import { afterAll, describe, expect, it } from 'vitest';

const MAIN = new URL('../dist/main.js', import.meta.url).pathname;
const ROUNDS = process.env.DDIA_LONG === '1' ? 8 : 3;
const CLIENTS = 6;
/** Commits acknowledged in a round before its kill: the kill lands mid-stream however slow the machine. */
const ACKS_PER_ROUND = 6;

async function start(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [MAIN, '--port', '0', '--data-dir', dataDir, '--log-level', 'info'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /"url":"(http:[^"]+)"/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)));
  });
  return { child, url };
}

// biome-ignore lint/suspicious/noExplicitAny: JSON answers of many shapes
async function post(url: string, body?: unknown): Promise<any> {
  const res = await fetch(url, {
    method: 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  if (res.status >= 300) throw new Error(`${res.status} ${JSON.stringify(json)}`);
  return json;
}

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe.skipIf(!existsSync(MAIN))('crash recovery (SIGKILL)', () => {
  it(`recovers exactly the acknowledged transactions over ${ROUNDS} kill/restart rounds`, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'ddia-tx-crash-'));
    dirs.push(dataDir);
    const acknowledged = new Set<string>();
    let { child, url } = await start(dataDir);
    await post(`${url}/tables`, { name: 'pairs', primaryKey: 'id' });
    for (let round = 0; round < ROUNDS; round++) {
      // One transaction left open with an uncommitted write: it must vanish.
      const open = (await post(`${url}/tx`, {})).id;
      await post(`${url}/tx/${open}/insert`, { table: 'pairs', row: { id: `open-${round}`, half: 'a' } });
      let stop = false;
      const clients = Array.from({ length: CLIENTS }, async (_, c) => {
        for (let n = 0; !stop; n++) {
          const key = `r${round}-c${c}-${n}`;
          try {
            const tx = (await post(`${url}/tx`, {})).id;
            await post(`${url}/tx/${tx}/insert`, { table: 'pairs', row: { id: `${key}-a`, half: 'a' } });
            await post(`${url}/tx/${tx}/insert`, { table: 'pairs', row: { id: `${key}-b`, half: 'b' } });
            await post(`${url}/tx/${tx}/commit`);
            acknowledged.add(key);
          } catch {
            return; // the server died under us
          }
        }
      });
      const before = acknowledged.size;
      await pollUntil(() => acknowledged.size >= before + ACKS_PER_ROUND, {
        timeoutMs: 30_000,
        intervalMs: 20,
        what: `${ACKS_PER_ROUND} acknowledged commits in round ${round}`,
      });
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      stop = true;
      await Promise.all(clients);
      await exited;
      ({ child, url } = await start(dataDir));
      const rows: { id: string }[] = (await post(`${url}/query`, { table: 'pairs' })).rows;
      const ids = new Set(rows.map((r) => r.id));
      for (const key of acknowledged) {
        expect(ids.has(`${key}-a`) && ids.has(`${key}-b`), `acknowledged ${key} lost`).toBe(true);
      }
      for (const id of ids) {
        expect(id.startsWith('open-'), `uncommitted ${id} survived`).toBe(false);
        const pair = id.replace(/-[ab]$/, '');
        expect(ids.has(`${pair}-a`) && ids.has(`${pair}-b`), `half of ${pair} survived`).toBe(true);
      }
    }
    expect(acknowledged.size).toBeGreaterThanOrEqual(ROUNDS * ACKS_PER_ROUND);
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  });
});
