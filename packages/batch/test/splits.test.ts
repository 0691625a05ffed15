// The coordinator's own choice of split size when a job names none.
import { describe, expect, it } from 'vitest';
import {
  chooseSplitBytes,
  type InputFile,
  MAP_TASKS_TARGET,
  planSplits,
  SPLIT_BYTES_MAX,
  SPLIT_BYTES_MIN,
} from '../src/core/splits.js';

const MiB = 1024 * 1024;
const text = (bytes: number, i = 0): InputFile => ({ path: `/in/${i}`, bytes, input: 'in', format: 'text' });

describe('chooseSplitBytes', () => {
  it('cuts a mid-sized input into MAP_TASKS_TARGET tasks', () => {
    const files = [text(100 * MiB, 0), text(28 * MiB, 1)];
    const splitBytes = chooseSplitBytes(files);
    expect(splitBytes).toBe(16 * MiB);
    // Each file is cut on its own: 100 MiB in 7 splits, 28 MiB in 2.
    expect(planSplits(files, splitBytes).length).toBe(MAP_TASKS_TARGET + 1);
  });

  it('never goes below SPLIT_BYTES_MIN nor above SPLIT_BYTES_MAX', () => {
    expect(chooseSplitBytes([text(1_000)])).toBe(SPLIT_BYTES_MIN);
    expect(chooseSplitBytes([])).toBe(SPLIT_BYTES_MIN);
    expect(chooseSplitBytes([text(1024 * MiB)])).toBe(SPLIT_BYTES_MAX);
    expect(planSplits([text(1024 * MiB)], SPLIT_BYTES_MAX).length).toBe(16);
  });
});
