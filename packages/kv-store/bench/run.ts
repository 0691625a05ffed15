// pnpm --filter @ddia/kv-store bench [--quick]
// The same keep-alive HTTP load (1 / 16 / 64 clients, 256-byte values; writes, reads, 50/50)
// against our 3-node kv-store and a 3-member etcd cluster on loopback, in the same run; then
// the failover time of each after SIGKILL of its leader. Results: bench/results/*.json + .md.
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Workload } from './load.js';
import { fill, KEYS, measureRound, type Pooled, pooled, type Round, VALUE_BYTES } from './rounds.js';
import { etcdBinary, type System, startEtcd, startKvStore } from './systems.js';

const quick = process.argv.includes('--quick');
/** `--only=write:64,read:16` measures just those cells (while working on one figure). */
const only = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');
const skipFailover = process.argv.includes('--no-failover');
const CLIENTS = [1, 16, 64];
const WORKLOADS: Workload[] = ['write', 'read', 'mixed'];
const wanted = (workload: Workload, clients: number) => !only || only.includes(`${workload}:${clients}`);
/** Each cell is measured in rounds, the two systems taking turns round by round, so that a
 *  shared VM's drifting speed (±30 % within a minute here) weighs on both sides alike. */
const ROUNDS = quick ? 1 : 3;
const ROUND_MS = quick ? 1_500 : 3_000;
/** Unmeasured load of the cell's own shape before its first round: connections open, and the
 *  JIT (ours) and heap sizing (both) settle for that mix; steady state is what is compared. */
const CELL_WARMUP_MS = quick ? 300 : 1_500;
/** After the fill, before the first cell: V8 needs some thousands of requests to optimise the
 *  hot paths; the first cells would otherwise measure the compiler. */
const WARMUP_MS = quick ? 300 : 5_000;
const FAILOVER_TRIALS = quick ? 1 : 5;
const FAILOVER_GIVE_UP_MS = 30_000;
const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

const value = Buffer.alloc(VALUE_BYTES, 'x');

async function failover(system: System): Promise<number[]> {
  const times: number[] = [];
  for (let trial = 0; trial < FAILOVER_TRIALS; trial++) {
    const leader = await system.leaderIndex();
    if (leader < 0) throw new Error(`${system.name}: no leader`);
    const survivors = system.urls.filter((_, i) => i !== leader);
    system.kill(leader);
    const killedAt = performance.now();
    for (let attempt = 0; ; attempt++) {
      const req = system.put(survivors[attempt % survivors.length] as string, 'failover', value);
      try {
        const res = await fetch(`${req.origin}${req.path}`, {
          method: req.method,
          body: req.body,
          headers: req.headers ?? {},
          signal: AbortSignal.timeout(500),
        });
        await res.arrayBuffer();
        if (res.ok) break;
      } catch {
        // keep trying
      }
      if (performance.now() - killedAt > FAILOVER_GIVE_UP_MS)
        throw new Error(`${system.name}: no write within 30 s`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    times.push(performance.now() - killedAt);
    await system.restart(leader);
  }
  return times;
}

interface Row {
  workload: Workload;
  clients: number;
  ours: Pooled;
  etcd: Pooled | null;
}

/** Fills the key space so that every read finds a value, then warms the system up. */
async function prepare(system: System): Promise<void> {
  await fill(system);
  await measureRound(system, 'mixed', 16, WARMUP_MS);
}

/** One cell for every system: a warm-up each, then ROUNDS rounds taken in turn. */
async function measureCell(systems: System[], workload: Workload, clients: number): Promise<Pooled[]> {
  for (const system of systems) await measureRound(system, workload, clients, CELL_WARMUP_MS);
  const rounds: Round[][] = systems.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, system] of systems.entries()) {
      rounds[i]!.push(await measureRound(system, workload, clients, ROUND_MS));
      process.stdout.write('.');
    }
  }
  process.stdout.write('\n');
  return systems.map((system, i) => {
    const c = pooled(rounds[i]!);
    console.log(
      `${system.name.padEnd(16)} ${workload.padEnd(5)} c=${String(clients).padEnd(3)} ${c.opsPerSecond.toFixed(0).padStart(6)} ops/s  p50 ${c.p50Ms.toFixed(2)} ms  p99 ${c.p99Ms.toFixed(2)} ms  cpu ${c.cpuUsPerOp?.toFixed(0) ?? 'n/a'} us/op  errors ${c.errors} ${JSON.stringify(c.errorKinds)}`,
    );
    return c;
  });
}

const fmt = (r: Pooled | null | undefined, f: (r: Pooled) => string) => (r ? f(r) : 'n/a');
const cpu = (r: Pooled | null | undefined) =>
  fmt(r, (c) => (c.cpuUsPerOp === null ? 'n/a' : c.cpuUsPerOp.toFixed(0)));

async function main(): Promise<void> {
  const etcd = etcdBinary();
  if (!etcd) {
    console.warn(
      'etcd is not installed: only the kv-store is measured. Install the peer with\n' +
        '  apt-get update && apt-get install -y etcd-server\nand run the bench again.',
    );
  }
  // Both clusters run side by side and take turns round by round (measureCell), so that a
  // machine whose speed drifts (a shared VM does) weighs on both sides of each ratio alike.
  // The idle one only exchanges heartbeats meanwhile.
  const ours = await startKvStore();
  const peer = etcd
    ? await startEtcd(etcd).catch(async (error) => {
        await ours.close();
        throw error;
      })
    : null;
  const etcdName = peer?.name ?? 'etcd (not installed)';
  const rows: Row[] = [];
  let oursFailover: number[] = [];
  let etcdFailover: number[] | null = null;
  try {
    await prepare(ours);
    if (peer) await prepare(peer);
    for (const workload of WORKLOADS)
      for (const clients of CLIENTS) {
        if (!wanted(workload, clients)) continue;
        const [oursCell, etcdCell] = await measureCell(peer ? [ours, peer] : [ours], workload, clients);
        rows.push({ workload, clients, ours: oursCell as Pooled, etcd: etcdCell ?? null });
      }
    if (!skipFailover) {
      oursFailover = await failover(ours);
      if (peer) etcdFailover = await failover(peer);
    }
  } finally {
    await ours.close();
    await peer?.close();
  }
  const machine = `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}`;
  const median = (xs: number[] | null) =>
    xs?.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]! : Number.NaN;
  const lines = [
    `# kv-store vs ${etcdName} — ${new Date().toISOString()}${quick ? ' (--quick)' : ''}`,
    '',
    `Machine: ${machine}. Loopback, 3 members each, fsync on commit, ${VALUE_BYTES}-byte values, ${KEYS} keys, keep-alive HTTP, clients spread over all members, each cell measured as ${ROUNDS} rounds of ${ROUND_MS / 1000} s per system, the two systems taking turns round by round after ${CELL_WARMUP_MS / 1000} s of unmeasured warm-up each. Reads are linearizable on both (ReadIndex; etcd's default range). CPU µs/op: user + system time of all three members per successful operation (the load generator not included).`,
    '',
    '| workload | clients | kv-store ops/s | p50 ms | p99 ms | CPU µs/op | etcd ops/s | p50 ms | p99 ms | CPU µs/op | ratio (ours/etcd) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.workload} | ${r.clients} | ${r.ours.opsPerSecond.toFixed(0)} | ${r.ours.p50Ms.toFixed(2)} | ${r.ours.p99Ms.toFixed(2)} | ${cpu(r.ours)} | ${fmt(r.etcd, (e) => e.opsPerSecond.toFixed(0))} | ${fmt(r.etcd, (e) => e.p50Ms.toFixed(2))} | ${fmt(r.etcd, (e) => e.p99Ms.toFixed(2))} | ${cpu(r.etcd)} | ${fmt(r.etcd, (e) => (r.ours.opsPerSecond / e.opsPerSecond).toFixed(2))} |`,
    ),
    '',
    skipFailover
      ? 'Failover: not measured (--no-failover).'
      : `Failover (SIGKILL leader -> first successful write): kv-store ${oursFailover.map((t) => t.toFixed(0)).join(', ')} ms (median ${median(oursFailover).toFixed(0)}); etcd ${etcdFailover ? `${etcdFailover.map((t) => t.toFixed(0)).join(', ')} ms (median ${median(etcdFailover).toFixed(0)})` : 'n/a'}.`,
    '',
  ];
  const markdown = lines.join('\n');
  console.log(`\n${markdown}`);
  const stamp = quick ? 'quick' : only ? 'partial' : 'latest';
  await writeFile(
    `${RESULTS_DIR}${stamp}.json`,
    `${JSON.stringify({ date: new Date().toISOString(), quick, machine, peer: etcdName, rows, failover: { ours: oursFailover, etcd: etcdFailover } }, null, 2)}\n`,
  );
  await writeFile(`${RESULTS_DIR}${stamp}.md`, markdown);
}

await main();
