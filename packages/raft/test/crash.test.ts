// Durability under SIGKILL: a child process writes through FileStorage and reports each save
// that resolved; we kill it mid-stream, reopen the directory, and require every acknowledged
// entry and the acknowledged term/vote to be there. Runs the compiled dist (build first).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FileStorage } from '../src/index.js';

const writer = fileURLToPath(new URL('../dist/tools/storage-writer.js', import.meta.url));
const KILLS = process.env.DDIA_LONG === '1' ? 20 : 3;

async function runAndKill(dir: string, afterAcks: number): Promise<{ index: number; term: number }> {
  const child = spawn(process.execPath, [writer, dir, 'group'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let last = { index: 0, term: 0 };
  let acks = 0;
  let buffered = '';
  await new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', () => resolve());
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const [, index, term] = line.split(' ');
        last = { index: Number(index), term: Number(term) };
        if (++acks === afterAcks) child.kill('SIGKILL');
      }
    });
  });
  return last;
}

describe.skipIf(!existsSync(writer))('FileStorage survives SIGKILL', () => {
  it(`${KILLS} kill/reopen cycles lose nothing acknowledged`, { timeout: 120_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'raft-crash-'));
    try {
      for (let k = 0; k < KILLS; k++) {
        const acked = await runAndKill(dir, 20 + k * 7);
        expect(acked.index).toBeGreaterThan(0);
        const storage = await FileStorage.open({ dir });
        const state = await storage.load();
        await storage.close();
        expect(state).not.toBeNull();
        const entries = state?.entries ?? [];
        expect(entries.length).toBeGreaterThanOrEqual(acked.index);
        expect(state?.hardState.term).toBeGreaterThanOrEqual(acked.term);
        expect(state?.hardState.vote).toBe('n1');
        for (let i = 0; i < acked.index; i++) {
          expect(entries[i].index).toBe(i + 1);
          expect(new TextDecoder().decode(entries[i].data)).toBe(`entry-${i + 1}`);
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
