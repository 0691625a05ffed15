// Entry: `node packages/kv-store/dist/main.js --id n1 --port 7001
//   --peers n1=http://127.0.0.1:7001,n2=http://127.0.0.1:7002,n3=http://127.0.0.1:7003 --data-dir DIR`
import os from 'node:os';
import v8 from 'node:v8';
import { configOrExit } from '@ddia/common';
import { KV_FLAGS, startKvNode } from './kv-node.js';

/** Below this many CPUs a member scavenges its young generation on its own thread. */
const PARALLEL_SCAVENGE_CPUS_MIN = 4;
// V8 scavenges with helper threads by default. Where the members of a cluster (and their
// clients) already want more CPU than there is, the main thread waits for a helper that is not
// running: scavenges of 1 MB of survivors took 15-25 ms on the 2-core machine of the kv-store
// README (about 2 ms alone), and the members used 7 % more CPU per write. The flag is read at
// each scavenge, so setting it here, before the first requests, takes effect.
if (os.availableParallelism() < PARALLEL_SCAVENGE_CPUS_MIN) v8.setFlagsFromString('--no-parallel-scavenge');
// V8's memory reducer runs extra full, compacting collections to hand memory back when it
// judges the allocation rate low. Under a steady load of writes it ran as many as the ordinary
// ones (18 of 36 mark-compacts in 12 s across the members, 12-19 ms pauses each); a member
// that keeps its heap has no use for it. Its flag too is read when a collection is scheduled.
v8.setFlagsFromString('--no-memory-reducer');
/** The old generation may grow to this many percent above what the last full collection kept. */
const HEAP_GROWING_PERCENT = 300;
// After each full collection V8 sets the next one's trigger from how fast it judges its
// collector against the program, aiming to spend about 3 % of the time collecting. Under
// steady writes a member promotes 5-10 MB/s (the Raft log, cached rows, tables of long-lived
// maps), and V8 set the trigger at 1.2-1.5x the live heap: a mark-compact every 0.6-2 s on each
// member, each holding the member 10-30 ms (marking steps plus the final pause, as the
// concurrent markers get little CPU on a busy machine). Two thirds of the requests slower than
// the p99 overlapped one on some member (kv-store README, step 23). A fixed factor of 4 makes
// them several times rarer for a heap of 100-150 MB instead of 40.
v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);

const config = configOrExit(KV_FLAGS);
try {
  await startKvNode(config, {
    // A broken invariant or a failed disk stops the process rather than serving from bad state.
    onFatal: () => process.exit(1),
  });
} catch (error) {
  console.error(`kv-store ${config.id} failed to start: ${(error as Error).message}`);
  process.exit(1);
}
