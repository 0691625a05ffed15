// Saving and replaying schedules. Every run writes its schedule and seed to a JSON file; a
// failed run is replayed with exactly the same faults by pointing DDIA_NEMESIS_REPLAY at it:
//   DDIA_NEMESIS_REPLAY=/tmp/ddia-nemesis/e2e-register-123.json npx vitest run --project testkit test/e2e.test.ts
// DDIA_NEMESIS_SEED=<n> draws a fresh schedule from a chosen seed instead.
import { mkdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomSeed, writeFileAtomic } from '@ddia/common';
import { type NemesisSchedule, type RandomScheduleOptions, randomSchedule } from './schedule.js';

export const REPLAY_ENV = 'DDIA_NEMESIS_REPLAY';
export const SEED_ENV = 'DDIA_NEMESIS_SEED';
export const DIR_ENV = 'DDIA_NEMESIS_DIR';

export class NemesisReplayError extends Error {
  override name = 'NemesisReplayError';
}

export interface SavedSchedule {
  schedule: NemesisSchedule;
  /** Where the schedule was written (or read from, when replaying). */
  path: string;
  replaying: boolean;
  /** The one command that reruns the test with this schedule. */
  replayCommand: string;
}

export interface ScheduleForOptions extends Omit<RandomScheduleOptions, 'seed'> {
  /** Names the file, e.g. 'e2e-register'. */
  name: string;
  /** The test file, for the replay command, e.g. 'test/e2e.test.ts'. */
  testFile: string;
  /** The vitest project that holds the test. */
  project?: string;
  env?: Record<string, string | undefined>;
}

/** A replayed schedule (DDIA_NEMESIS_REPLAY), or a fresh one from a seed, saved to disk. */
export async function scheduleFor(options: ScheduleForOptions): Promise<SavedSchedule> {
  const env = options.env ?? process.env;
  const command = (path: string) =>
    `${REPLAY_ENV}=${path} npx vitest run --project ${options.project ?? 'testkit'} ${options.testFile}`;
  const replayPath = env[REPLAY_ENV];
  if (replayPath) {
    const schedule = await loadSchedule(replayPath);
    return { schedule, path: replayPath, replaying: true, replayCommand: command(replayPath) };
  }
  const seedText = env[SEED_ENV];
  const seed = seedText === undefined ? randomSeed() : Number(seedText);
  if (!Number.isInteger(seed) || seed < 0)
    throw new NemesisReplayError(`${SEED_ENV} must be a non-negative integer`);
  const schedule = randomSchedule({ ...options, seed });
  const dir = env[DIR_ENV] ?? join(tmpdir(), 'ddia-nemesis');
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${options.name}-${seed}.json`);
  await saveSchedule(path, schedule);
  return { schedule, path, replaying: false, replayCommand: command(path) };
}

export async function saveSchedule(path: string, schedule: NemesisSchedule): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(schedule, null, 2)}\n`);
}

export async function loadSchedule(path: string): Promise<NemesisSchedule> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new NemesisReplayError(`cannot read schedule ${path}: ${(err as Error).message}`);
  }
  let parsed: NemesisSchedule;
  try {
    parsed = JSON.parse(text) as NemesisSchedule;
  } catch (err) {
    throw new NemesisReplayError(`${path} is not JSON: ${(err as Error).message}`);
  }
  if (!parsed || !Array.isArray(parsed.nodes) || !Array.isArray(parsed.steps)) {
    throw new NemesisReplayError(`${path} is not a nemesis schedule (needs nodes and steps)`);
  }
  for (const [i, step] of parsed.steps.entries()) {
    if (typeof step?.atMs !== 'number' || typeof step?.action?.op !== 'string') {
      throw new NemesisReplayError(`${path}: step ${i} needs atMs and action.op`);
    }
  }
  return parsed;
}
