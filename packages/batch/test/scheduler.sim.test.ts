// Deterministic simulation of the coordinator's scheduler with workers that crash (and come
// back as new workers), hang (SIGSTOP-like: silent, then resume and report stale work), and
// straggle. A virtual clock, a seeded PRNG, synchronous messages. The checker: the job
// finishes once the faults stop, and each reduce partition's committed output equals the sum
// over every map task's contribution (a reduce that ran without some map's output is caught).
// A failing seed is printed and replays exactly.
import { type Random, SeededRandom } from '@ddia/common/core';
import { describe, expect, it } from 'vitest';
import { type Assignment, type JobOptions, Scheduler, UnknownWorkerError } from '../src/core/scheduler.js';

const STEP_MS = 50;
const HEARTBEAT_MS = 200;
const LEASE_MS = 1_000;
const FETCH_TIMEOUT_MS = 400;
const FAULTS_END_MS = 30_000;
const LIVENESS_DEADLINE_MS = 120_000;

interface SimAttempt {
  assignment: Assignment;
  finishAtMs: number;
  /** Reduce: what it fetched, or the lost map outputs. */
  fetched: number | null;
  lostMaps: { index: number; attemptId: string }[];
}

interface SimWorker {
  id: string;
  url: string;
  slots: number;
  crashed: boolean;
  pausedUntilMs: number;
  nextHeartbeatMs: number;
  attempts: SimAttempt[];
  /** Map output on this worker's local disk: map attempt id -> its task index. */
  mapOutputs: Map<string, number>;
}

/** What map task m contributes to reduce partition r: deterministic, like a real map. */
function contribution(m: number, r: number): number {
  return ((m + 1) * 7919 + (r + 1) * 104729) % 1000;
}

interface SimResult {
  ok: boolean;
  reason: string;
  attemptsPerMap: number[];
  backups: number;
  deaths: number;
}

function simulate(seed: number, faults: boolean, options: JobOptions): SimResult {
  const random: Random = new SeededRandom(seed);
  const scheduler = new Scheduler({ leaseMs: LEASE_MS, backupAfterMsMin: 1_500, backupFactor: 2 });
  const mapCount = random.int(3, 12);
  const reduceCount = random.int(1, 5);
  let now = 0;
  scheduler.addJob('job-1', mapCount, reduceCount, options, now);
  const committed = new Map<number, number>();
  const workers: SimWorker[] = [];
  let generation = 0;
  let deaths = 0;
  const byUrl = new Map<string, SimWorker>();
  const spawn = () => {
    const url = `sim://worker-${generation++}`;
    const slots = random.int(1, 2);
    const w = scheduler.register(url, slots, now);
    const worker: SimWorker = {
      id: w.id,
      url,
      slots,
      crashed: false,
      pausedUntilMs: 0,
      nextHeartbeatMs: now + HEARTBEAT_MS,
      attempts: [],
      mapOutputs: new Map(),
    };
    workers.push(worker);
    byUrl.set(url, worker);
  };
  const workerCount = random.int(2, 5);
  for (let i = 0; i < workerCount; i++) spawn();

  const reachable = (w: SimWorker | undefined) => w !== undefined && !w.crashed && now >= w.pausedUntilMs;
  // A worker that the coordinator forgot re-registers as a new worker with an empty disk.
  const rejoin = (worker: SimWorker) => {
    worker.crashed = true;
    spawn();
  };

  const taskTimeMs = () => (random.chance(0.05) ? random.int(3_000, 8_000) : random.int(100, 1_200));

  for (; now <= LIVENESS_DEADLINE_MS; now += STEP_MS) {
    for (const event of scheduler.tick(now)) {
      if (event.type === 'worker-dead') deaths++;
      if (event.type === 'job-committing') scheduler.committed(event.jobId, now);
    }
    const job = scheduler.job('job-1')!;
    if (job.status === 'failed')
      return { ok: false, reason: `job failed: ${job.error}`, attemptsPerMap: [], backups: 0, deaths };
    if (job.status === 'succeeded') break;

    if (faults && now < FAULTS_END_MS) {
      const live = workers.filter((w) => !w.crashed);
      const roll = random.next();
      if (roll < 0.01 && live.length > 0) {
        const victim = random.pick(live);
        victim.crashed = true; // SIGKILL: its disk (map output) is gone with it
        if (random.chance(0.7)) spawn();
      } else if (roll < 0.02 && live.length > 0) {
        random.pick(live).pausedUntilMs = now + random.int(500, 4_000); // SIGSTOP, later SIGCONT
      }
    }
    if (workers.every((w) => w.crashed)) spawn();

    for (const worker of [...workers]) {
      if (worker.crashed || now < worker.pausedUntilMs) continue;
      try {
        if (now >= worker.nextHeartbeatMs) {
          scheduler.heartbeat(worker.id, now);
          worker.nextHeartbeatMs = now + HEARTBEAT_MS;
        }
        for (const attempt of [...worker.attempts]) {
          if (now < attempt.finishAtMs) continue;
          worker.attempts.splice(worker.attempts.indexOf(attempt), 1);
          const a = attempt.assignment;
          if (a.kind === 'map') {
            worker.mapOutputs.set(a.attemptId, a.index);
            scheduler.complete(worker.id, a.attemptId, now);
          } else if (attempt.lostMaps.length > 0) {
            scheduler.fail(
              worker.id,
              a.attemptId,
              { fatal: false, message: 'fetch failed', lostMaps: attempt.lostMaps },
              now,
            );
          } else {
            // Write-then-rename: a whole file replaces the old one, never half of one.
            committed.set(a.index, attempt.fetched!);
            scheduler.complete(worker.id, a.attemptId, now);
          }
        }
        while (worker.attempts.length < worker.slots) {
          const assignment = scheduler.assign(worker.id, now);
          if (!assignment) break;
          const attempt: SimAttempt = {
            assignment,
            finishAtMs: now + taskTimeMs(),
            fetched: null,
            lostMaps: [],
          };
          if (assignment.kind === 'reduce') {
            // The shuffle: fetch this partition from every map output's worker.
            let sum = 0;
            for (const location of assignment.mapOutputs) {
              const holder = byUrl.get(location.workerUrl);
              if (reachable(holder) && holder!.mapOutputs.has(location.attemptId)) {
                sum += contribution(location.index, assignment.index);
              } else {
                attempt.lostMaps.push({ index: location.index, attemptId: location.attemptId });
              }
            }
            attempt.fetched = sum;
            if (attempt.lostMaps.length > 0) attempt.finishAtMs = now + FETCH_TIMEOUT_MS;
          }
          worker.attempts.push(attempt);
        }
      } catch (err) {
        if (!(err instanceof UnknownWorkerError)) throw err;
        rejoin(worker);
      }
    }
  }
  const job = scheduler.job('job-1')!;
  if (job.status !== 'succeeded') {
    return {
      ok: false,
      reason: `job still ${job.status} at ${now} ms`,
      attemptsPerMap: [],
      backups: 0,
      deaths,
    };
  }
  for (let r = 0; r < reduceCount; r++) {
    let expected = 0;
    for (let m = 0; m < mapCount; m++) expected += contribution(m, r);
    if (committed.get(r) !== expected) {
      return {
        ok: false,
        reason: `partition ${r}: committed ${committed.get(r)}, expected ${expected}`,
        attemptsPerMap: [],
        backups: 0,
        deaths,
      };
    }
  }
  // Maps may end idle: output lost after every reduce had fetched it is not needed again.
  for (const task of job.reduces) {
    if (task.state !== 'completed' || task.winner === null) {
      return {
        ok: false,
        reason: `${task.kind} ${task.index} not completed`,
        attemptsPerMap: [],
        backups: 0,
        deaths,
      };
    }
  }
  const all = [...job.maps, ...job.reduces].flatMap((t) => t.attempts);
  return {
    ok: true,
    reason: '',
    attemptsPerMap: job.maps.map((t) => t.attempts.length),
    backups: all.filter((a) => a.backup).length,
    deaths,
  };
}

const SEEDS = Number(process.env.DDIA_SEEDS ?? (process.env.DDIA_LONG === '1' ? 2_000 : 300));
const FIRST_SEED = Number(process.env.DDIA_SEED ?? 1);

describe('scheduler simulation', () => {
  it(`finishes with the right output under crashes, hangs and stragglers (${SEEDS} seeds)`, () => {
    let deaths = 0;
    let backups = 0;
    for (let seed = FIRST_SEED; seed < FIRST_SEED + SEEDS; seed++) {
      const result = simulate(seed, true, { speculative: true });
      if (!result.ok)
        throw new Error(`seed ${seed}: ${result.reason} (replay: DDIA_SEED=${seed} DDIA_SEEDS=1)`);
      deaths += result.deaths;
      backups += result.backups;
    }
    // The faults really happened, and stragglers really got backups.
    expect(deaths).toBeGreaterThan(SEEDS / 4);
    expect(backups).toBeGreaterThan(0);
  });

  it('runs each map task once when nothing fails and speculation is off', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const result = simulate(seed, false, { speculative: false });
      expect(result.ok, `seed ${seed}: ${result.reason}`).toBe(true);
      expect(
        result.attemptsPerMap.every((n) => n === 1),
        `seed ${seed}`,
      ).toBe(true);
    }
  });

  it('canary: reduces started before every map is done give wrong output, and the checker sees it', () => {
    let caught = 0;
    for (let seed = 1; seed <= 50; seed++) {
      if (!simulate(seed, false, { speculative: false, brokenEarlyReduces: true }).ok) caught++;
    }
    expect(caught).toBeGreaterThan(25);
  });
});

describe('scheduler rules', () => {
  it('a dead worker loses its completed map tasks while reduces still need them (paper §3.3)', () => {
    const s = new Scheduler({ leaseMs: 1_000 });
    s.addJob('j', 2, 1, { speculative: false }, 0);
    const w1 = s.register('u1', 1, 0);
    const w2 = s.register('u2', 1, 0);
    const m0 = s.assign(w1.id, 0)!;
    const m1 = s.assign(w2.id, 0)!;
    expect(s.complete(w1.id, m0.attemptId, 100)).toBe('accepted');
    expect(s.complete(w2.id, m1.attemptId, 100)).toBe('accepted');
    const r0 = s.assign(w2.id, 200)!;
    expect(r0.kind).toBe('reduce');
    expect(r0.mapOutputs.map((l) => l.workerUrl).sort()).toEqual(['u1', 'u2']);
    s.heartbeat(w2.id, 900);
    const events = s.tick(1_100); // w1 silent since 100 ms
    expect(events).toEqual([{ type: 'worker-dead', workerId: w1.id, lostAttempts: [], resetMaps: 1 }]);
    expect(s.job('j')!.maps[0]!.state).toBe('idle');
    expect(() => s.heartbeat(w1.id, 1_200)).toThrow(UnknownWorkerError);
    // The reduce, which fetched nothing from u1 in time, reports the lost output; it waits.
    s.fail(
      w2.id,
      r0.attemptId,
      { fatal: false, message: 'fetch', lostMaps: [{ index: 0, attemptId: m0.attemptId }] },
      1_200,
    );
    const again = s.assign(w2.id, 1_200)!;
    expect(again).toMatchObject({ kind: 'map', index: 0 });
  });

  it('a fatal failure fails the job with the task named; later reports are ignored', () => {
    const s = new Scheduler();
    s.addJob('j', 1, 1, { speculative: false }, 0);
    const w = s.register('u', 2, 0);
    const m = s.assign(w.id, 0)!;
    s.fail(w.id, m.attemptId, { fatal: true, message: 'map threw at a.txt line 3: boom' }, 10);
    expect(s.job('j')!.status).toBe('failed');
    expect(s.job('j')!.error).toBe(
      `map task 0 (attempt ${m.attemptId} on ${w.id}): map threw at a.txt line 3: boom`,
    );
    expect(s.tick(20)).toEqual([{ type: 'job-failed', jobId: 'j', error: s.job('j')!.error }]);
    expect(s.assign(w.id, 30)).toBeNull();
  });

  it('a backup attempt races the straggler and the first to finish wins', () => {
    const s = new Scheduler({ backupAfterMsMin: 1_000, leaseMs: 60_000 });
    s.addJob('j', 1, 1, { speculative: true }, 0);
    const slow = s.register('slow', 1, 0);
    const fast = s.register('fast', 1, 0);
    const first = s.assign(slow.id, 0)!;
    expect(s.assign(fast.id, 500)).toBeNull(); // not a straggler yet
    const backup = s.assign(fast.id, 1_000)!;
    expect(backup).toMatchObject({ kind: 'map', index: 0, backup: true });
    expect(s.complete(fast.id, backup.attemptId, 1_100)).toBe('accepted');
    expect(s.complete(slow.id, first.attemptId, 1_200)).toBe('ignored');
    expect(s.job('j')!.maps[0]!.winner).toBe(backup.attemptId);
  });

  it('the job commits only after every reduce has completed', () => {
    const s = new Scheduler();
    s.addJob('j', 1, 2, { speculative: false }, 0);
    const w = s.register('u', 2, 0);
    s.complete(w.id, s.assign(w.id, 0)!.attemptId, 1);
    const r0 = s.assign(w.id, 2)!;
    const r1 = s.assign(w.id, 2)!;
    s.complete(w.id, r0.attemptId, 3);
    expect(s.job('j')!.status).toBe('running');
    s.complete(w.id, r1.attemptId, 4);
    expect(s.job('j')!.status).toBe('committing');
    expect(s.tick(5)).toEqual([{ type: 'job-committing', jobId: 'j' }]);
    s.committed('j', 6);
    expect(s.job('j')!.status).toBe('succeeded');
  });
});
