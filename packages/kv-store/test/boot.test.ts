// A member on the LSM engine starts the engine's table workers when it boots, before any write:
// left to the engine they would start at the first half-full memtable, on every member at the
// same log index, and stall requests while they load (kv-node.ts).
import { tableWorkersReady } from '@ddia/lsm-engine';
import { afterAll, expect, it } from 'vitest';
import { type InProcessCluster, startInProcess, waitFor } from './support/in-process.js';

let cluster: InProcessCluster | undefined;
afterAll(async () => cluster?.close());

it('starts the LSM table workers at boot, with no write yet', async () => {
  cluster = await startInProcess(1, ['--engine', 'lsm']);
  const ready = await waitFor(
    'table workers',
    () => {
      const lanes = tableWorkersReady();
      return Object.values(lanes).every(Boolean) ? lanes : undefined;
    },
    20_000,
  );
  expect(ready).toEqual({ flush: true, compaction: true, subcompaction: true });
  const res = await fetch(`${cluster.urls[0]}/kv?prefix=`);
  expect(await res.json()).toMatchObject({ items: [] });
}, 30_000);
