// acks=all across a leader and its follower when every broker loses power at once: the two
// partition logs of a replicated partition, each on its own testkit FaultFileSystem, driven the
// way src/cluster/replication.ts drives them — the leader appends acks=all batches (fsync'd),
// the follower fetches what the leader has written, appends it (PartitionLog.appendReplicated)
// and reports its log end on its next fetch; the leader counts a batch as replicated, and
// answers acks=all, once that report covers it (high watermark = min over the ISR). At a
// seeded step both disks lose what was not fsync'd. Either copy may then lead (a clean
// election picks any ISR member), so each must hold every acknowledged batch at its offset.
// The canary runs the follower without its fsync (the Log's sync() point, `log.sync`, skipped on
// its disk): acknowledged batches vanish from the follower on some seeds, and the check sees it.
// Replay one seed: DDIA_SEED=<seed> npx vitest run --project streaming:unit follower-power-loss
import { LOG_SYNC, SeededRandom } from '@ddia/common';
import { FaultFileSystem } from '@ddia/testkit';
import { describe, expect, it } from 'vitest';
import { decompress } from '../src/broker/compression.js';
import { decodeRecords, encodeBatch, splitBatches } from '../src/core/index.js';
import { PartitionLog } from '../src/log/partition-log.js';

const DIR = '/data/topic-0';
const REPLAY = process.env.DDIA_SEED === undefined ? null : Number(process.env.DDIA_SEED);
const LONG = process.env.DDIA_LONG === '1';
const SEEDS = REPLAY !== null ? [REPLAY] : Array.from({ length: LONG ? 400 : 40 }, (_, i) => i + 1);
const STEPS_MAX = 40;
const FETCH_BYTES_MAX = 64 * 1024;
const LEADER_EPOCH = 0;
const te = new TextEncoder();
const td = new TextDecoder();

interface Acked {
  offset: number;
  value: string;
}

async function trial(seed: number, followerSkips: string[] = []): Promise<string | null> {
  const random = new SeededRandom(seed);
  const leaderFs = new FaultFileSystem({ seed });
  const followerFs = new FaultFileSystem({ seed: seed + 1, skipSyncPoints: followerSkips });
  const open = (fs: FaultFileSystem) => PartitionLog.open({ dir: DIR, fs, managedHighWatermark: true });
  const leader = await open(leaderFs);
  const follower = await open(followerFs);
  const waiting: Acked[] = [];
  const acked: Acked[] = [];
  let reported = 0; // the follower's log end as its last fetch told the leader
  const steps = random.int(1, STEPS_MAX);
  for (let step = 0; step < steps; step++) {
    if (random.int(0, 2) > 0) {
      const value = `v${step}`;
      const [batch] = splitBatches(
        encodeBatch({
          baseOffset: 0,
          records: [
            {
              offset: 0,
              timestamp: 1_700_000_000_000 + step,
              key: null,
              value: te.encode(value),
              headers: [],
            },
          ],
        }),
      );
      const { baseOffset } = await leader.append([batch!], true, LEADER_EPOCH);
      waiting.push({ offset: baseOffset, value });
    } else {
      // One fetch round: report the log end (what the previous round appended), take the rest.
      reported = follower.logEndOffset;
      const records = await leader.read(reported, FETCH_BYTES_MAX, leader.writtenEndOffset);
      await follower.appendReplicated(records);
    }
    // acks=all is answered once the ISR (leader and follower) has the batch.
    while (waiting.length > 0 && waiting[0]!.offset < reported) acked.push(waiting.shift()!);
  }
  const leaderAfter = await PartitionLog.open({ dir: DIR, fs: leaderFs.crash(), managedHighWatermark: true });
  const followerAfter = await PartitionLog.open({
    dir: DIR,
    fs: followerFs.crash(),
    managedHighWatermark: true,
  });
  try {
    for (const [name, log] of [
      ['leader', leaderAfter],
      ['follower', followerAfter],
    ] as const) {
      const values = new Map<number, string>();
      for (const bytes of await log.read(0, Number.MAX_SAFE_INTEGER, log.logEndOffset)) {
        for (const batch of splitBatches(bytes))
          for (const r of decodeRecords(batch, decompress)) values.set(r.offset, td.decode(r.value!));
      }
      for (const a of acked) {
        if (values.get(a.offset) !== a.value)
          return `seed ${seed}: acknowledged ${a.value} at ${a.offset} is gone from the ${name} (it ends at ${log.logEndOffset})`;
      }
    }
    return null;
  } finally {
    await leaderAfter.close();
    await followerAfter.close();
  }
}

describe('acks=all on a leader and follower under a whole-cluster power loss (FaultFileSystem)', () => {
  it(`every acknowledged batch survives on both copies (${SEEDS.length} seeds)`, async () => {
    const failures: string[] = [];
    for (const seed of SEEDS) {
      const problem = await trial(seed);
      if (problem) failures.push(problem);
    }
    expect(failures).toEqual([]);
  });

  it('canary: a follower that does not fsync what it fetched loses acknowledged batches', async () => {
    const failures: string[] = [];
    for (const seed of SEEDS) {
      const problem = await trial(seed, [LOG_SYNC.sync]);
      if (problem) failures.push(problem);
    }
    expect(failures.length).toBeGreaterThan(0);
    expect(failures[0]).toMatch(/is gone from the follower/);
  });
});
