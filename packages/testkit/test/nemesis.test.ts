// The nemesis: pure partition shapes and schedules (same seed, same faults), schedule files
// that replay, and a scripted schedule run against a real proxied cluster, which must end whole.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeededRandom } from '@ddia/common';
import { afterEach, describe, expect, it } from 'vitest';
import { type Cluster, startCluster } from '../src/harness/index.js';
import {
  bridge,
  isolate,
  loadSchedule,
  majorityMinority,
  NemesisReplayError,
  randomSchedule,
  ring,
  runNemesis,
  scheduleFor,
  scriptedSchedule,
} from '../src/nemesis/index.js';
import { call, registerCommand } from './cluster-fixtures.js';

const FIVE = ['n1', 'n2', 'n3', 'n4', 'n5'];

/** Who each node can still reach after the cuts. */
function reachable(nodes: string[], cuts: readonly (readonly [string, string])[]) {
  const cut = new Set(cuts.map(([a, b]) => `${a}->${b}`));
  return new Map(nodes.map((a) => [a, nodes.filter((b) => b !== a && !cut.has(`${a}->${b}`))]));
}

describe('partition shapes', () => {
  it('isolate cuts one node off, both ways', () => {
    const cuts = isolate('n2', FIVE);
    expect(cuts).toHaveLength(8);
    expect(reachable(FIVE, cuts).get('n2')).toEqual([]);
    expect(reachable(FIVE, cuts).get('n1')).toEqual(['n3', 'n4', 'n5']);
  });

  it('majority-minority splits 5 nodes 3 / 2', () => {
    const sees = reachable(FIVE, majorityMinority(FIVE, new SeededRandom(1)));
    const sizes = FIVE.map((n) => sees.get(n)!.length + 1).sort();
    expect(sizes).toEqual([2, 2, 3, 3, 3]);
  });

  it('bridge: one node sees everyone, the two halves do not see each other', () => {
    const sees = reachable(FIVE, bridge(FIVE, new SeededRandom(2)));
    const bridges = FIVE.filter((n) => sees.get(n)!.length === 4);
    expect(bridges).toHaveLength(1);
    for (const n of FIVE.filter((x) => x !== bridges[0])) expect(sees.get(n)!.length + 1).toBe(3);
  });

  it('ring: every node sees a majority, no two the same one', () => {
    const sees = reachable(FIVE, ring(FIVE, new SeededRandom(3)));
    const views = FIVE.map((n) => [n, ...sees.get(n)!].sort().join(','));
    for (const view of views) expect(view.split(',').length).toBe(3);
    expect(new Set(views).size).toBe(5);
  });
});

describe('schedules', () => {
  const options = { nodes: FIVE, durationMs: 20_000 };

  it('the same seed draws the same schedule; another seed another', () => {
    expect(randomSchedule({ ...options, seed: 42 })).toEqual(randomSchedule({ ...options, seed: 42 }));
    expect(randomSchedule({ ...options, seed: 42 })).not.toEqual(randomSchedule({ ...options, seed: 43 }));
  });

  it('every fault is undone, within the duration, and every kind appears', () => {
    const { steps } = randomSchedule({ ...options, seed: 7 });
    const ops = steps.map((s) => s.action.op);
    for (const op of ['kill', 'pause', 'partition', 'latency', 'clock-skew']) expect(ops).toContain(op);
    expect(ops.filter((o) => o === 'kill').length).toBe(ops.filter((o) => o === 'restart').length);
    expect(ops.filter((o) => o === 'pause').length).toBe(ops.filter((o) => o === 'resume').length);
    expect(ops.filter((o) => o === 'partition').length).toBe(ops.filter((o) => o === 'heal').length);
    for (const s of steps) expect(s.atMs).toBeLessThanOrEqual(20_000);
    for (let i = 1; i < steps.length; i++) expect(steps[i]!.atMs).toBeGreaterThanOrEqual(steps[i - 1]!.atMs);
  });

  it('scheduleFor saves the schedule and replays it from DDIA_NEMESIS_REPLAY', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nemesis-test-'));
    const fresh = await scheduleFor({
      ...options,
      name: 'unit',
      testFile: 'test/nemesis.test.ts',
      env: { DDIA_NEMESIS_DIR: dir, DDIA_NEMESIS_SEED: '99' },
    });
    expect(fresh.schedule.seed).toBe(99);
    expect(fresh.path).toBe(join(dir, 'unit-99.json'));
    expect(fresh.replayCommand).toBe(
      `DDIA_NEMESIS_REPLAY=${fresh.path} npx vitest run --project testkit test/nemesis.test.ts`,
    );
    const replay = await scheduleFor({
      ...options,
      name: 'unit',
      testFile: 'test/nemesis.test.ts',
      env: { DDIA_NEMESIS_REPLAY: fresh.path },
    });
    expect(replay.replaying).toBe(true);
    expect(replay.schedule).toEqual(fresh.schedule);
    await writeFile(join(dir, 'bad.json'), '{"nodes": []}');
    await expect(loadSchedule(join(dir, 'bad.json'))).rejects.toThrow(NemesisReplayError);
    await expect(loadSchedule(join(dir, 'absent.json'))).rejects.toThrow(/cannot read/);
  });
});

describe('runNemesis on a real cluster', () => {
  let cluster: Cluster | undefined;
  afterEach(async () => {
    await cluster?.close();
    cluster = undefined;
  });

  it('applies a scripted schedule and always ends with the cluster whole', async () => {
    cluster = await startCluster({ nodes: 3, command: registerCommand(['--chaos']), proxied: true });
    const c = cluster;
    const schedule = scriptedSchedule(c.ids(), [
      { atMs: 0, action: { op: 'partition', shape: 'isolate', cuts: isolate('n1', c.ids()) } },
      { atMs: 0, action: { op: 'kill', node: 'n3' } },
      { atMs: 0, action: { op: 'pause', node: 'n2' } },
      { atMs: 0, action: { op: 'clock-skew', node: 'n1', skewMs: 30_000 } },
      // Never undone by the script: the final heal must do it.
      { atMs: 60_000, action: { op: 'heal' } },
    ]);
    const run = runNemesis({ cluster: c, schedule });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(c.node('n3').state).toBe('stopped');
    expect(c.node('n2').state).toBe('paused');
    expect(c.proxies().faults.get('n2', 'n1').mode).toBe('blackhole');
    const applied = await run.stop();
    expect(applied.map((a) => a.action.op)).toEqual([
      'partition',
      'kill',
      'pause',
      'clock-skew',
      'final-heal',
    ]);
    expect(applied.every((a) => a.error === undefined)).toBe(true);
    for (const n of c.nodes) expect(n.state).toBe('running');
    expect(c.proxies().faults.entries()).toEqual([]);
    // A write through n3 reaches the primary n1 again.
    expect((await call(`${c.node('n3').url}/register/z`, 'PUT', { value: 1 })).status).toBe(200);
  });

  it('reports a fault it could not apply and still heals', async () => {
    cluster = await startCluster({ nodes: 2, command: registerCommand([]), proxied: true });
    const run = runNemesis({
      cluster,
      schedule: scriptedSchedule(cluster.ids(), [
        { atMs: 0, action: { op: 'clock-skew', node: 'n1', skewMs: 5 } },
      ]),
    });
    const applied = await run.done;
    expect(applied[0]?.error).toMatch(/404/);
    expect(applied.at(-1)?.action.op).toBe('final-heal');
  });
});
