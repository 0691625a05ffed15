// Done-when of issue 3, end to end: the register server on three real processes behind the
// fault proxy, ten concurrent clients recording a history while a seeded nemesis kills, pauses
// and partitions the cluster, and the linearizability checker reading the history. The correct
// server must be linearizable; its broken twin (followers serve reads from a stale cache) must
// be caught in every run. A failed run prints the command that replays its exact faults.
import { SeededRandom } from '@ddia/common';
import { afterEach, describe, expect, it, onTestFailed } from 'vitest';
import { casRegisterModel, checkLinearizable } from '../src/checker/index.js';
import { type Cluster, startCluster } from '../src/harness/index.js';
import { runNemesis, scheduleFor } from '../src/nemesis/index.js';
import { registerCommand } from './cluster-fixtures.js';
import { runRegisterWorkload } from './register-workload.js';

const LONG = process.env.DDIA_LONG === '1';
const WORKLOAD_MS = LONG ? 60_000 : 9_000;
/** Faults stop this long before the clients do, so the last operations see a whole cluster. */
const QUIET_TAIL_MS = 2_500;
const CLIENTS = 10;
const KEYS = ['r0', 'r1', 'r2'];
const CHECK_TIMEOUT_MS = LONG ? 300_000 : 60_000;

let cluster: Cluster | undefined;
afterEach(async (context) => {
  // Print the nodes' logs before close() removes them (onTestFailed runs too late for that).
  if (context.task.result?.state === 'fail' && cluster) console.error(await cluster.logTails(20));
  await cluster?.close();
  cluster = undefined;
});

async function runVariant(name: string, extraArgs: string[]) {
  const saved = await scheduleFor({
    name,
    testFile: 'test/e2e.test.ts',
    nodes: ['n1', 'n2', 'n3'],
    durationMs: WORKLOAD_MS - QUIET_TAIL_MS,
    faults: ['kill', 'pause', 'partition', 'clock-skew', 'latency'],
    faultMs: [400, 1_000],
    gapMs: [150, 400],
  });
  onTestFailed(() => {
    console.error(`nemesis schedule: ${saved.path}\nreplay with: ${saved.replayCommand}`);
  });
  cluster = await startCluster({
    nodes: saved.schedule.nodes,
    command: registerCommand(['--chaos', ...extraArgs]),
    proxied: true,
  });
  const c = cluster;
  const nemesis = runNemesis({ cluster: c, schedule: saved.schedule });
  // The clients run until the whole schedule has been applied (it runs late on a loaded
  // machine) and the cluster has been whole for a quiet tail, within a generous bound.
  const workload = await runRegisterWorkload({
    cluster: c,
    clients: CLIENTS,
    durationMs: WORKLOAD_MS * 4,
    until: nemesis.done.then(() => new Promise((resolve) => setTimeout(resolve, QUIET_TAIL_MS))),
    keys: KEYS,
    random: new SeededRandom(saved.schedule.seed ?? 1),
  });
  const applied = await nemesis.stop();
  const history = workload.recorder.events();
  const result = checkLinearizable(history, casRegisterModel, { timeoutMs: CHECK_TIMEOUT_MS });
  const faults = applied.map((a) => `${a.atMs}ms ${a.action.op}${a.error ? ` (error: ${a.error})` : ''}`);
  console.log(
    `${name}: seed ${saved.schedule.seed}, ${history.length} events (ok ${workload.counts.ok}, ` +
      `fail ${workload.counts.fail}, info ${workload.counts.info}), verdict ${result.verdict} in ` +
      `${result.elapsedMs.toFixed(0)} ms; faults: ${faults.join(', ')}`,
  );
  return { result, applied, workload, saved };
}

describe('end to end: register server under a nemesis', () => {
  it('the correct register server gives linearizable histories', async () => {
    const { result, applied, workload } = await runVariant('e2e-register', []);
    // The run must have exercised the system: operations succeeded, and faults were applied.
    expect(workload.counts.ok).toBeGreaterThan(50);
    for (const op of ['kill', 'pause', 'partition']) expect(applied.map((a) => a.action.op)).toContain(op);
    expect(applied.every((a) => a.error === undefined)).toBe(true);
    if (result.verdict !== 'linearizable') console.error(result.explanation?.join('\n'));
    expect(result.verdict).toBe('linearizable');
  });

  it('the broken variant (followers serve stale cached reads) is caught', async () => {
    const { result } = await runVariant('e2e-register-stale-cache', ['--stale-cache']);
    if (result.verdict === 'not-linearizable') console.log(result.explanation?.slice(0, 12).join('\n'));
    expect(result.verdict).toBe('not-linearizable');
  });
});
