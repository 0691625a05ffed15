// pnpm --filter @ddia/kv-store exec node --import tsx bench/stalls.ts [flags]   (--help lists them)
// Where the latency tail comes from: one 3-node cluster runs with stall-monitor.mjs preloaded in
// each member (GC pauses and event-loop stalls, with their times), the load records when each
// request started, how long it took and which member it went to, and then the slowest requests
// (≥ p99) are compared with a sample of all requests: which kinds of event, on the leader or a
// follower, overlapped them. An event that overlaps most slow requests and few others is a cause
// of the tail; one that overlaps both alike is background.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SeededRandom } from '@ddia/common/core';
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
import { percentile, type Workload } from './load.js';
import { fill, measureRound, pooled } from './rounds.js';
import { type KvStore, startKvStore } from './systems.js';

const TOOL = 'stalls.ts';
const DURATION_MS_DEFAULT = 10_000;
const DURATION_MS_MIN = 100;
/** Events shorter than this are not counted as overlapping a request: at a p99 of some tens of
 *  ms, a 1 ms scavenge does not explain one. */
const EVENT_MS_MIN = 4;
/** The comparison set: every SAMPLE_EVERY-th request, in order of completion. */
const SAMPLE_EVERY = 20;
/** The monitors write every 500 ms (stall-monitor.mjs); wait for the batch holding the load's end. */
const MONITOR_FLUSH_WAIT_MS = 1_200;
/** The least lateness of its timer that stall-monitor.mjs logs as a stall. */
const MONITOR_STALL_MS_MIN = 4;
const MONITOR_URL = new URL('./stall-monitor.mjs', import.meta.url).href;

const USAGE = `usage: node --import tsx bench/stalls.ts [flags]
  --workload W          write | read | mixed (default write)
  --clients N           concurrent clients, one request in flight each (default ${CLIENTS_DEFAULT})
  --duration-ms MS      length of the recorded load (default ${DURATION_MS_DEFAULT})
  --warmup-ms MS        unrecorded load before it (default ${WARMUP_MS_DEFAULT})
  --a-node-args="..."   Node arguments for the members (the monitor's --import is added)
  --a-flags="..."       kv-store flags appended for the members
  --a-main=PATH         the members' main.js (default: this package's dist/main.js)`;

interface Settings {
  options: ReturnType<typeof sideOptions>;
  workload: Workload;
  clients: number;
  durationMs: number;
  warmupMs: number;
}

function parseSettings(argv: readonly string[]): Settings {
  const values = parseFlags(argv, {
    ...sideFlagSpecs('a'),
    workload: { type: 'string' },
    clients: { type: 'string' },
    'duration-ms': { type: 'string' },
    'warmup-ms': { type: 'string' },
  });
  return {
    options: sideOptions(values, 'a'),
    workload: workloadFlag(values, 'write'),
    clients: integerFlag(values, 'clients', { fallback: CLIENTS_DEFAULT, min: 1, max: CLIENTS_MAX }),
    durationMs: integerFlag(values, 'duration-ms', {
      fallback: DURATION_MS_DEFAULT,
      min: DURATION_MS_MIN,
      max: STRETCH_MS_MAX,
    }),
    warmupMs: integerFlag(values, 'warmup-ms', { fallback: WARMUP_MS_DEFAULT, min: 0, max: STRETCH_MS_MAX }),
  };
}

/** One successful request. Times are epoch ms, as the monitors' are: each process adds its
 *  performance.timeOrigin, so both sides read the same wall clock to within a millisecond. */
interface Span {
  startMs: number;
  latencyMs: number;
  /** Index of the member it was sent to. */
  member: number;
}

type GcKind = 'major' | 'minor' | 'incremental' | 'weakcb';

type MonitorEvent =
  | { type: 'gc'; kind: GcKind; startMs: number; durationMs: number }
  | {
      type: 'stall';
      startMs: number;
      durationMs: number;
      /** The monitor's timer interval that held the stall: the stall plus one tick. */
      intervalMs: number;
      runningMs: number | null;
      runQueueMs: number | null;
    }
  | { type: 'dropped'; count: number };

type TimedEvent = Exclude<MonitorEvent, { type: 'dropped' }>;

const progress = (line: string) => process.stderr.write(`[stalls] ${line}\n`);

/** The events a member's monitor logged (none if it wrote no file, e.g. it never stalled). */
function readEvents(cluster: KvStore, member: number): MonitorEvent[] {
  const path = join(cluster.dir, `stall-monitor-n${member + 1}.jsonl`);
  if (!existsSync(path)) return [];
  // A line without its newline is one the monitor is still writing: left out.
  const lines = readFileSync(path, 'utf8').split('\n');
  lines.pop();
  return lines.filter(Boolean).map((line) => JSON.parse(line) as MonitorEvent);
}

/** Fills and warms the cluster up, then runs the recorded load. */
async function recordLoad(cluster: KvStore, s: Settings): Promise<{ spans: Span[]; leader: number }> {
  progress('filling');
  await fill(cluster);
  progress(`warming up for ${s.warmupMs / 1000} s`);
  await measureRound(cluster, s.workload, s.clients, s.warmupMs);
  // The leader right before the recording: the events are labelled by it.
  const leader = await cluster.leaderIndex();
  if (leader < 0) throw new Error('no leader after the warm-up: nothing to label the events by');
  progress(`recording ${s.durationMs / 1000} s of ${s.workload} load at ${s.clients} clients`);
  const spans: Span[] = [];
  const round = await measureRound(
    cluster,
    s.workload,
    s.clients,
    s.durationMs,
    (request, startMs, latencyMs) =>
      spans.push({
        startMs: performance.timeOrigin + startMs,
        latencyMs,
        member: cluster.urls.indexOf(request.origin),
      }),
  );
  const result = pooled([round]);
  console.log(
    `${s.workload} at ${s.clients} clients for ${(s.durationMs / 1000).toFixed(1)} s: ${result.opsPerSecond.toFixed(0)} ops/s, ` +
      `p50 ${result.p50Ms.toFixed(2)}, p99 ${result.p99Ms.toFixed(2)}, p999 ${result.p999Ms.toFixed(2)} ms, ` +
      `CPU ${result.cpuUsPerOp?.toFixed(0) ?? 'n/a'} µs/op, errors ${result.errors}`,
  );
  return { spans, leader };
}

const ms = (x: number) => x.toFixed(1);
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** "n=…, total … ms, p50 …, max … ms" of some durations. */
function durations(label: string, xs: number[]): string {
  const sorted = [...xs].sort((a, b) => a - b);
  const shape = sorted.length ? `  p50 ${ms(percentile(sorted, 0.5))}  max ${ms(sorted.at(-1)!)} ms` : '';
  return `    ${label.padEnd(16)} n=${String(sorted.length).padEnd(5)} total ${ms(sum(sorted)).padStart(7)} ms${shape}`;
}

/** Per member: the requests it served, its GC pauses by kind and its stalls, split into time
 *  running, waiting for a CPU, and neither (blocked). */
function printMember(member: number, role: string, events: TimedEvent[], spans: Span[]): void {
  const own = spans.filter((span) => span.member === member).map((span) => span.latencyMs);
  own.sort((a, b) => a - b);
  console.log(`  n${member + 1} (${role}): ${own.length} requests, p99 ${ms(percentile(own, 0.99))} ms`);
  for (const kind of ['major', 'minor', 'incremental', 'weakcb'] as const) {
    const pauses = events.flatMap((e) => (e.type === 'gc' && e.kind === kind ? [e.durationMs] : []));
    if (pauses.length) console.log(durations(`GC ${kind}`, pauses));
  }
  const stalls = events.flatMap((e) => (e.type === 'stall' ? [e] : []));
  console.log(
    durations(
      `stalls ≥${MONITOR_STALL_MS_MIN} ms`,
      stalls.map((e) => e.durationMs),
    ),
  );
  // The scheduler's counters cover each stall's whole timer interval: the shares are of that.
  const total = sum(stalls.map((e) => e.intervalMs));
  if (total > 0 && stalls.every((e) => e.runningMs !== null && e.runQueueMs !== null)) {
    const running = sum(stalls.map((e) => e.runningMs as number));
    const waiting = sum(stalls.map((e) => e.runQueueMs as number));
    const share = (x: number) => `${((100 * x) / total).toFixed(0)} %`;
    console.log(
      `      main thread meanwhile: running ${share(running)}, waiting in the run queue ${share(waiting)}, ` +
        `blocked ${share(Math.max(0, total - running - waiting))}`,
    );
  }
}

/** An event category: where (leader or follower) and what (a GC kind or a stall). */
type Category = `${'leader' | 'follower'} ${'major GC' | 'minor GC' | 'incremental GC' | 'stall'}`;

function categoryOf(event: TimedEvent, isLeader: boolean): Category | null {
  const where = isLeader ? 'leader' : 'follower';
  if (event.type === 'stall') return `${where} stall`;
  if (event.kind === 'weakcb') return null;
  return `${where} ${event.kind} GC`;
}

const CATEGORIES: Category[] = (['leader', 'follower'] as const).flatMap((where) =>
  (['major GC', 'minor GC', 'incremental GC', 'stall'] as const).map((what): Category => `${where} ${what}`),
);

/** The categories of the events of ≥ EVENT_MS_MIN that overlapped the span's time. */
function overlapping(
  span: Span,
  events: { category: Category; startMs: number; endMs: number }[],
): Set<Category> {
  const endMs = span.startMs + span.latencyMs;
  const found = new Set<Category>();
  for (const e of events) if (e.startMs < endMs && e.endMs > span.startMs) found.add(e.category);
  return found;
}

/** Seed of the generator that moves spans, so that a run's output is the same when re-read. */
const MOVE_SEED = 0x5eed;

/** Each of `spans` moved to a random start within the recorded load, its length kept. */
function movedAtRandom(spans: Span[], all: Span[]): Span[] {
  const firstMs = Math.min(...all.map((span) => span.startMs));
  const lastMs = Math.max(...all.map((span) => span.startMs + span.latencyMs));
  // Seeded: two reports of one run's files would otherwise differ.
  const random = new SeededRandom(MOVE_SEED);
  return spans.map((span) => ({
    ...span,
    startMs: firstMs + random.next() * Math.max(0, lastMs - firstMs - span.latencyMs),
  }));
}

/** For the slow requests, the same moved, and the sample: the share each category overlapped. */
function printCorrelation(spans: Span[], eventsByMember: TimedEvent[][], leader: number): void {
  const events = eventsByMember.flatMap((list, member) =>
    list.flatMap((e) => {
      const category = categoryOf(e, member === leader);
      return category && e.durationMs >= EVENT_MS_MIN
        ? [{ category, startMs: e.startMs, endMs: e.startMs + e.durationMs }]
        : [];
    }),
  );
  const p99Ms = percentile(
    spans.map((span) => span.latencyMs).sort((a, b) => a - b),
    0.99,
  );
  const slow = spans.filter((span) => span.latencyMs >= p99Ms);
  const sets = [
    { label: `slow (≥ p99 ${ms(p99Ms)} ms)`, spans: slow },
    // A long request overlaps more events by chance alone: the same slow spans, moved to other
    // times of the run, say how much. An event is a cause where the first column beats this one.
    { label: 'the same, moved', spans: movedAtRandom(slow, spans) },
    { label: `sample (1 in ${SAMPLE_EVERY})`, spans: spans.filter((_, i) => i % SAMPLE_EVERY === 0) },
  ];
  const overlaps = sets.map((set) => set.spans.map((span) => overlapping(span, events)));
  const share = (k: number, test: (found: Set<Category>) => boolean) => {
    const list = overlaps[k]!;
    return list.length ? `${((100 * list.filter(test).length) / list.length).toFixed(0)} %` : 'n/a';
  };
  const width = 24;
  console.log(`\nRequests overlapped by an event of ≥ ${EVENT_MS_MIN} ms on some member:`);
  console.log(
    `  ${''.padEnd(width)}${sets.map((set, k) => `${set.label} n=${overlaps[k]!.length}`.padStart(width)).join('')}`,
  );
  const row = (label: string, test: (found: Set<Category>) => boolean) =>
    console.log(`  ${label.padEnd(width)}${sets.map((_, k) => share(k, test).padStart(width)).join('')}`);
  for (const category of CATEGORIES) row(category, (found) => found.has(category));
  row('any of these', (found) => found.size > 0);
  row('none', (found) => found.size === 0);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const s = parseOrExit(TOOL, USAGE, argv, () => parseSettings(argv));
  const options = { ...s.options, nodeArgs: [...(s.options.nodeArgs ?? []), '--import', MONITOR_URL] };
  progress(`starting a cluster (${describeSide(options)})`);
  const cluster = await startKvStore(options);
  let spans: Span[];
  let leaders: number[];
  let eventsByMember: MonitorEvent[][];
  try {
    const recorded = await recordLoad(cluster, s);
    spans = recorded.spans;
    leaders = [recorded.leader, await cluster.leaderIndex()];
    await new Promise((resolve) => setTimeout(resolve, MONITOR_FLUSH_WAIT_MS));
    // Read before close(): it removes the cluster's dir.
    eventsByMember = cluster.urls.map((_, member) => readEvents(cluster, member));
  } finally {
    await cluster.close();
  }
  const [leader, leaderAfter] = leaders as [number, number];
  if (leader !== leaderAfter)
    console.log(
      `warning: the leader changed during the run (n${leader + 1} -> ${leaderAfter < 0 ? 'none' : `n${leaderAfter + 1}`})`,
    );
  if (spans.length === 0) throw new Error('no request succeeded: nothing to correlate');
  // Only events during the recorded load: the warm-up's are not compared with anything.
  const firstMs = spans.reduce((min, span) => Math.min(min, span.startMs), Number.POSITIVE_INFINITY);
  const lastMs = spans.reduce((max, span) => Math.max(max, span.startMs + span.latencyMs), 0);
  const timed = eventsByMember.map((list) =>
    list.filter(
      (e): e is TimedEvent =>
        e.type !== 'dropped' && e.startMs < lastMs && e.startMs + e.durationMs > firstMs,
    ),
  );
  const dropped = sum(eventsByMember.flat().map((e) => (e.type === 'dropped' ? e.count : 0)));
  if (dropped > 0) console.log(`warning: the monitors dropped ${dropped} events (buffer full)`);
  console.log(`\nPer member, during the recorded load:`);
  for (const [member, events] of timed.entries())
    printMember(member, member === leader ? 'leader' : 'follower', events, spans);
  printCorrelation(spans, timed, leader);
}

await main();
