// pnpm --filter @ddia/kv-store exec node --import tsx bench/ab.ts [flags]   (--help lists them)
// An A/B of one change: two of our 3-node clusters, A and B, each run with its own Node
// arguments, kv-store flags or build, are filled, warmed up and then measured in rounds, the
// two taking turns round by round. Prints each round and the pooled figures of each side
// (ops/s, p50/p99/p999 latency, CPU of the members per operation) and B against A.
import {
  CLIENTS_DEFAULT,
  CLIENTS_MAX,
  describeSide,
  integerFlag,
  parseFlags,
  parseOrExit,
  STRETCH_MS_MAX,
  sideFlagSpecs,
  sideOptions,
  WARMUP_MS_DEFAULT,
  workloadFlag,
} from './args.js';
import type { Workload } from './load.js';
import { fill, measureRound, type Pooled, pooled, type Round } from './rounds.js';
import { type KvStore, type KvStoreOptions, startKvStore } from './systems.js';

const TOOL = 'ab.ts';
const ROUNDS_DEFAULT = 6;
const ROUNDS_MAX = 100;
const ROUND_MS_DEFAULT = 3_000;
const ROUND_MS_MIN = 100;

const USAGE = `usage: node --import tsx bench/ab.ts [flags]
  --a-node-args="..."   Node arguments for A's members, e.g. "--max-semi-space-size=8"
  --b-node-args="..."   the same for B
  --a-flags="..."       kv-store flags appended for A's members (the last of a repeated flag wins)
  --b-flags="..."       the same for B
  --a-main=PATH         A's main.js (default: this package's dist/main.js), e.g. another commit's build
  --b-main=PATH         the same for B
  --workload W          write | read | mixed (default write)
  --clients N           concurrent clients, one request in flight each (default ${CLIENTS_DEFAULT})
  --rounds N            measured rounds per side and pass (default ${ROUNDS_DEFAULT})
  --round-ms MS         length of one round (default ${ROUND_MS_DEFAULT})
  --warmup-ms MS        unmeasured load per side before the rounds (default ${WARMUP_MS_DEFAULT})
  --swap                a second pass with B started (and measured) first; both passes pooled`;

type Label = 'A' | 'B';

interface Side {
  label: Label;
  options: KvStoreOptions;
}

interface Settings {
  sides: [Side, Side];
  workload: Workload;
  clients: number;
  rounds: number;
  roundMs: number;
  warmupMs: number;
  swap: boolean;
}

function parseSettings(argv: readonly string[]): Settings {
  const values = parseFlags(argv, {
    ...sideFlagSpecs('a'),
    ...sideFlagSpecs('b'),
    workload: { type: 'string' },
    clients: { type: 'string' },
    rounds: { type: 'string' },
    'round-ms': { type: 'string' },
    'warmup-ms': { type: 'string' },
    swap: { type: 'boolean' },
  });
  return {
    sides: [
      { label: 'A', options: sideOptions(values, 'a') },
      { label: 'B', options: sideOptions(values, 'b') },
    ],
    workload: workloadFlag(values, 'write'),
    clients: integerFlag(values, 'clients', { fallback: CLIENTS_DEFAULT, min: 1, max: CLIENTS_MAX }),
    rounds: integerFlag(values, 'rounds', { fallback: ROUNDS_DEFAULT, min: 1, max: ROUNDS_MAX }),
    roundMs: integerFlag(values, 'round-ms', {
      fallback: ROUND_MS_DEFAULT,
      min: ROUND_MS_MIN,
      max: STRETCH_MS_MAX,
    }),
    warmupMs: integerFlag(values, 'warmup-ms', { fallback: WARMUP_MS_DEFAULT, min: 0, max: STRETCH_MS_MAX }),
    swap: values.swap === true,
  };
}

/** Progress goes to stderr, so that stdout holds only the figures. */
const progress = (line: string) => process.stderr.write(`[ab] ${line}\n`);

const fixed = (x: number | null, digits: number) =>
  x === null || Number.isNaN(x) ? 'n/a' : x.toFixed(digits);

function figures(p: Pooled): string {
  const errors = p.errors > 0 ? `  errors ${p.errors} ${JSON.stringify(p.errorKinds)}` : '';
  return (
    `${fixed(p.opsPerSecond, 0).padStart(6)} ops/s  p50 ${fixed(p.p50Ms, 2)}  p99 ${fixed(p.p99Ms, 2)}` +
    `  p999 ${fixed(p.p999Ms, 2)} ms  CPU ${fixed(p.cpuUsPerOp, 0)} µs/op${errors}`
  );
}

/** Starts and fills the clusters in `order`; if one fails, those already started are closed. */
async function startSides(order: Side[]): Promise<Map<Label, KvStore>> {
  const clusters = new Map<Label, KvStore>();
  try {
    for (const side of order) {
      progress(`starting ${side.label} (${describeSide(side.options)})`);
      const cluster = await startKvStore(side.options);
      clusters.set(side.label, cluster);
      progress(`filling ${side.label} (member logs in ${cluster.dir}, kept if a member crashes)`);
      await fill(cluster);
    }
  } catch (error) {
    await Promise.all([...clusters.values()].map((c) => c.close()));
    throw error;
  }
  return clusters;
}

/** One pass: both clusters started in `order`, warmed up, then measured in rounds that take
 *  turns in that order. Returns each side's rounds. */
async function runPass(pass: number, order: Side[], s: Settings): Promise<Map<Label, Round[]>> {
  const clusters = await startSides(order);
  const rounds = new Map<Label, Round[]>(order.map((side) => [side.label, []]));
  try {
    for (const side of order) {
      progress(`warming ${side.label} up for ${s.warmupMs / 1000} s`);
      await measureRound(clusters.get(side.label)!, s.workload, s.clients, s.warmupMs);
    }
    for (let r = 1; r <= s.rounds; r++) {
      for (const side of order) {
        const round = await measureRound(clusters.get(side.label)!, s.workload, s.clients, s.roundMs);
        rounds.get(side.label)!.push(round);
        console.log(`pass ${pass} round ${r}/${s.rounds}  ${side.label}  ${figures(pooled([round]))}`);
      }
    }
  } finally {
    await Promise.all([...clusters.values()].map((c) => c.close()));
  }
  return rounds;
}

const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** Percent change from a to b, signed. */
const change = (a: number | null, b: number | null) =>
  a === null || b === null || a === 0 ? 'n/a' : `${b >= a ? '+' : ''}${((b / a - 1) * 100).toFixed(1)} %`;

function printPooled(title: string, rounds: Map<Label, Round[]>): void {
  const a = pooled(rounds.get('A')!);
  const b = pooled(rounds.get('B')!);
  console.log(`\n${title}`);
  console.log(`  A  ${figures(a)}`);
  console.log(`  B  ${figures(b)}`);
  console.log(
    `  B vs A: ops/s ${change(a.opsPerSecond, b.opsPerSecond)}, p50 ${change(a.p50Ms, b.p50Ms)}, ` +
      `p99 ${change(a.p99Ms, b.p99Ms)}, p999 ${change(a.p999Ms, b.p999Ms)}, ` +
      `CPU/op ${change(a.cpuUsPerOp, b.cpuUsPerOp)}`,
  );
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const s = parseOrExit(TOOL, USAGE, argv, () => parseSettings(argv));
  const [sideA, sideB] = s.sides;
  // The cluster started second measured about 5 % slower than the first in practice, whichever
  // build it ran; a second pass in the mirrored order, pooled with the first, cancels that.
  const orders = s.swap
    ? [
        [sideA, sideB],
        [sideB, sideA],
      ]
    : [[sideA, sideB]];
  const loadS = (2 * (s.warmupMs + s.rounds * s.roundMs) * orders.length) / 1000;
  console.log(
    `A/B, ${s.workload} at ${s.clients} clients: ${count(orders.length, 'pass', 'passes')} of ` +
      `${count(s.rounds, 'round', 'rounds')} of ` +
      `${s.roundMs / 1000} s per side after ${s.warmupMs / 1000} s of warm-up each (about ${loadS.toFixed(0)} s of load)`,
  );
  console.log(`  A: ${describeSide(sideA.options)}\n  B: ${describeSide(sideB.options)}`);
  const all = new Map<Label, Round[]>([
    ['A', []],
    ['B', []],
  ]);
  for (const [i, order] of orders.entries()) {
    const pass = i + 1;
    progress(`pass ${pass}: ${order.map((side) => side.label).join(' then ')}`);
    const rounds = await runPass(pass, order, s);
    if (s.swap) printPooled(`pass ${pass} (${order[0]!.label} started and measured first)`, rounds);
    for (const [label, list] of rounds) all.get(label)!.push(...list);
  }
  printPooled(s.swap ? 'both passes pooled' : 'pooled', all);
}

await main();
