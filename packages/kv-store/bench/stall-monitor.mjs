// A preload for a kv-store member: `node --import <this file> dist/main.js ...` (stalls.ts adds
// it). Plain JavaScript, because the members run plain node without tsx.
//
// It logs, as JSON lines in $KV_BENCH_DIR/stall-monitor-<member id>.jsonl:
//   {"type":"gc","kind":"major|minor|incremental|weakcb","startMs":…,"durationMs":…}
//     each garbage collection V8 reports (perf_hooks 'gc' entries: main-thread pause or step);
//   {"type":"stall","startMs":…,"durationMs":…,"intervalMs":…,"runningMs":…,"runQueueMs":…}
//     each event-loop stall: a timer of TICK_MS fired durationMs late, at least STALL_MS_MIN.
//     Of the timer's whole interval (intervalMs: the stall plus the tick), runningMs is the time
//     the main thread ran on a CPU and runQueueMs the time it was runnable but waited for one
//     (from /proc/self/task/<pid>/schedstat; null off Linux); the rest it was blocked (a
//     synchronous system call, or waiting for another thread).
// Times are epoch ms (performance.timeOrigin + the entry's time), so that the load generator,
// another process, can line its requests up with them.
import { appendFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants, PerformanceObserver } from 'node:perf_hooks';

/** Period of the timer that detects stalls. Short, to see short stalls; it costs each member
 *  some hundreds of wake-ups per second, which is why this runs only in stalls.ts. */
const TICK_MS = 2;
/** Lateness below this is timer jitter rather than a stall worth logging. */
const STALL_MS_MIN = 4;
/** Events are written in batches: a write per event would itself stall the member. */
const FLUSH_INTERVAL_MS = 500;
/** Events kept between flushes at most; beyond it they are counted as dropped. */
const BUFFERED_EVENTS_MAX = 10_000;
const NS_PER_MS = 1e6;

const GC_KINDS = {
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

/** The member's id from its `--id` flag (systems.ts always passes one), else the pid. */
function memberId() {
  const at = process.argv.lastIndexOf('--id');
  return at >= 0 && process.argv[at + 1] ? process.argv[at + 1] : `pid${process.pid}`;
}

const outDir = process.env.KV_BENCH_DIR ?? tmpdir();
const outPath = join(outDir, `stall-monitor-${memberId()}.jsonl`);
const schedstatPath = `/proc/self/task/${process.pid}/schedstat`;

/** [ns on a CPU, ns waiting in the run queue] of the main thread (its task id is the pid). */
function schedstat() {
  try {
    const [runningNs, waitingNs] = readFileSync(schedstatPath, 'utf8').split(' ').map(Number);
    return { runningNs, waitingNs };
  } catch {
    return null;
  }
}

const buffer = [];
let dropped = 0;
function record(event) {
  if (buffer.length < BUFFERED_EVENTS_MAX) buffer.push(event);
  else dropped++;
}

function flush() {
  if (dropped > 0) buffer.push({ type: 'dropped', count: dropped });
  dropped = 0;
  if (buffer.length === 0) return;
  appendFileSync(outPath, `${buffer.map((e) => JSON.stringify(e)).join('\n')}\n`);
  buffer.length = 0;
}

new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = GC_KINDS[entry.detail?.kind] ?? `kind${entry.detail?.kind}`;
    record({
      type: 'gc',
      kind,
      startMs: performance.timeOrigin + entry.startTime,
      durationMs: entry.duration,
    });
  }
}).observe({ entryTypes: ['gc'] });

let lastTickMs = performance.now();
let lastSched = schedstat();
setInterval(() => {
  const nowMs = performance.now();
  const sched = schedstat();
  const lateMs = nowMs - lastTickMs - TICK_MS;
  if (lateMs >= STALL_MS_MIN) {
    // The scheduler's counters can only be read at ticks, so they split the whole interval
    // since the last tick, of which the stall is all but TICK_MS.
    const split =
      sched && lastSched
        ? {
            runningMs: (sched.runningNs - lastSched.runningNs) / NS_PER_MS,
            runQueueMs: (sched.waitingNs - lastSched.waitingNs) / NS_PER_MS,
          }
        : { runningMs: null, runQueueMs: null };
    record({
      type: 'stall',
      startMs: performance.timeOrigin + lastTickMs + TICK_MS,
      durationMs: lateMs,
      intervalMs: nowMs - lastTickMs,
      ...split,
    });
  }
  lastTickMs = nowMs;
  lastSched = sched;
}, TICK_MS).unref();

// The bench ends a member with SIGKILL, so the last batch may be lost: stalls.ts waits for
// more than FLUSH_INTERVAL_MS after its load before it reads the files.
setInterval(flush, FLUSH_INTERVAL_MS).unref();
process.on('exit', flush);
