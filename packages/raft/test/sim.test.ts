// Deterministic simulation of whole clusters (see src/sim/simulation.ts). Default run: 2,000
// seeds (1,000 three-node, 1,000 five-node); DDIA_LONG=1: 20,000. Replay one seed with
//   RAFT_SEED=123 RAFT_NODES=5 npx vitest run --project raft test/sim.test.ts
import { describe, expect, it } from 'vitest';
import { replayCommand, runSimulation, type SimulationResult } from '../src/index.js';

const LONG = process.env.DDIA_LONG === '1';
const SEEDS_PER_SIZE = LONG ? 10_000 : 1_000;
const FIRST_SEED = Number(process.env.RAFT_FIRST_SEED ?? 1);
const ONE_SEED = process.env.RAFT_SEED === undefined ? null : Number(process.env.RAFT_SEED);
const ONE_SIZE = Number(process.env.RAFT_NODES ?? 3);
const CANARY = process.env.RAFT_CANARY;

function canaryOptions(name: string | undefined) {
  if (name === 'figure8') return { unsafeCommitOldTerms: true };
  if (name === 'vote' || name === '1') return { unsafeVoteIgnoresLog: true };
  if (name === 'self') return { unsafeCountUnstableSelf: true };
  return {};
}

function report(r: SimulationResult, nodeCount: number, canary?: string): string {
  const env = replayCommand(r.seed, nodeCount).replace(
    'RAFT_SEED',
    canary ? `RAFT_CANARY=${canary} RAFT_SEED` : 'RAFT_SEED',
  );
  return `seed ${r.seed} (${nodeCount} nodes) failed: ${r.violation}\n  replay: ${env}\n  stats: ${JSON.stringify(r.stats)}`;
}

describe.skipIf(ONE_SEED === null)('replay one seed', () => {
  it(`seed ${ONE_SEED} on ${ONE_SIZE} nodes`, () => {
    const r = runSimulation({
      seed: ONE_SEED as number,
      nodeCount: ONE_SIZE,
      raft: canaryOptions(CANARY),
      keepTrace: true,
    });
    if (!r.ok) console.log(r.trace.slice(-60).join('\n'));
    expect(r.violation, report(r, ONE_SIZE, CANARY)).toBeNull();
  });
});

describe.skipIf(ONE_SEED !== null)('simulation: safety after every step, liveness after heal', () => {
  for (const nodeCount of [3, 5]) {
    it(`${SEEDS_PER_SIZE} seeds, ${nodeCount} nodes`, { timeout: LONG ? 3_600_000 : 180_000 }, () => {
      const failures: string[] = [];
      let events = 0;
      let leaders = 0;
      let reads = 0;
      let snapshots = 0;
      let crashes = 0;
      let crashesBeforePersist = 0;
      let confChanges = 0;
      for (let seed = FIRST_SEED; seed < FIRST_SEED + SEEDS_PER_SIZE; seed++) {
        const r = runSimulation({ seed, nodeCount });
        events += r.stats.events;
        leaders += r.stats.leadersElected;
        reads += r.stats.readsChecked;
        snapshots += r.stats.snapshotsInstalled;
        crashes += r.stats.crashes;
        crashesBeforePersist += r.stats.crashesBeforePersist;
        confChanges += r.stats.confChangesProposed;
        if (!r.ok) failures.push(report(r, nodeCount));
      }
      console.log(
        `raft sim ${nodeCount} nodes: ${SEEDS_PER_SIZE} seeds, ${events} events, ${leaders} leaders elected, ` +
          `${crashes} crashes (${crashesBeforePersist} of a leader between its send and its write), ${confChanges} membership changes, ${reads} linearizable reads checked, ` +
          `${snapshots} snapshots installed`,
      );
      expect(failures, failures.slice(0, 5).join('\n')).toEqual([]);
      // The fault schedule must actually exercise the protocol.
      expect(leaders).toBeGreaterThan(SEEDS_PER_SIZE);
      expect(reads).toBeGreaterThan(SEEDS_PER_SIZE);
      expect(snapshots).toBeGreaterThan(0);
      // The leader sends appends before its own write (diss. §10.2.1): crash in that gap too.
      expect(crashesBeforePersist).toBeGreaterThan(0);
      expect(confChanges).toBeGreaterThan(0);
    });
  }

  it('the same seed gives the same trace; different seeds differ', () => {
    const a = runSimulation({ seed: 4242, nodeCount: 5, keepTrace: true });
    const b = runSimulation({ seed: 4242, nodeCount: 5, keepTrace: true });
    const c = runSimulation({ seed: 4243, nodeCount: 5, keepTrace: true });
    expect(a.trace.length).toBeGreaterThan(100);
    expect(b.trace).toEqual(a.trace);
    expect(b.traceHash).toBe(a.traceHash);
    expect(c.traceHash).not.toBe(a.traceHash);
  });
});

describe.skipIf(ONE_SEED !== null)('canaries: deliberately broken variants the simulation must catch', () => {
  it('a leader counting its own unwritten entries (diss. §10.2.1) is caught within the default seed budget', () => {
    let caught: SimulationResult | null = null;
    let tried = 0;
    for (let seed = FIRST_SEED; seed < FIRST_SEED + SEEDS_PER_SIZE && !caught; seed++) {
      tried++;
      const r = runSimulation({ seed, nodeCount: 3, raft: { unsafeCountUnstableSelf: true } });
      if (!r.ok) caught = r;
    }
    expect(caught, 'the checker missed a commit that only an unwritten leader log held').not.toBeNull();
    console.log(`self-count canary caught after ${tried} seeds: ${caught?.violation}`);
    expect(caught?.violation).toMatch(
      /Leader Completeness|State Machine Safety|committed entry changed|Log Matching/,
    );
  });

  it('voting without the election restriction (§5.4.1) is caught within the default seed budget', () => {
    let caught: SimulationResult | null = null;
    let tried = 0;
    for (let seed = FIRST_SEED; seed < FIRST_SEED + SEEDS_PER_SIZE && !caught; seed++) {
      tried++;
      const r = runSimulation({ seed, nodeCount: 3, raft: { unsafeVoteIgnoresLog: true } });
      if (!r.ok) caught = r;
    }
    expect(caught, 'the checker missed a leader without committed entries').not.toBeNull();
    console.log(`vote canary caught after ${tried} seeds: ${caught?.violation}`);
    expect(caught?.violation).toMatch(
      /Leader Completeness|State Machine Safety|committed entry changed|Log Matching/,
    );
  });

  it('committing an older-term entry by counting replicas (Figure 8) is caught within the default seed budget', () => {
    let caught: SimulationResult | null = null;
    let tried = 0;
    let unsafeCommits = 0;
    for (const nodeCount of [3, 5]) {
      for (let seed = FIRST_SEED; seed < FIRST_SEED + SEEDS_PER_SIZE && !caught; seed++) {
        tried++;
        const r = runSimulation({ seed, nodeCount, raft: { unsafeCommitOldTerms: true } });
        unsafeCommits += r.stats.unsafeCommits;
        if (!r.ok) caught = r;
      }
    }
    console.log(
      `figure 8 canary: ${unsafeCommits} unsafe commits in ${tried} seeds; caught: ${caught?.violation ?? 'no'}`,
    );
    expect(unsafeCommits).toBeGreaterThan(0);
    expect(caught, 'the checker missed the Figure 8 bug').not.toBeNull();
  });
});
