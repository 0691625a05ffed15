// The member's own V8 settings, and the command line taking precedence over them (so that
// bench/ab.ts can compare a member with a setting against one without).
import { describe, expect, it } from 'vitest';
import { gcFlagsToSet, givenOnCommandLine, HEAP_GROWING_PERCENT } from '../src/gc-settings.js';

describe('gc settings', () => {
  it('sets all three on a small machine and keeps helper scavenges on a large one', () => {
    expect(gcFlagsToSet([], 2)).toEqual([
      '--no-parallel-scavenge',
      '--no-memory-reducer',
      `--heap-growing-percent=${HEAP_GROWING_PERCENT}`,
    ]);
    expect(gcFlagsToSet([], 8)).toEqual([
      '--no-memory-reducer',
      `--heap-growing-percent=${HEAP_GROWING_PERCENT}`,
    ]);
  });

  it('leaves a flag the command line sets, in any of its spellings', () => {
    expect(gcFlagsToSet(['--heap-growing-percent=0'], 2)).toEqual([
      '--no-parallel-scavenge',
      '--no-memory-reducer',
    ]);
    expect(gcFlagsToSet(['--heap_growing_percent=50', '--memory-reducer', '--parallel-scavenge'], 2)).toEqual(
      [],
    );
    expect(gcFlagsToSet(['--no-memory_reducer'], 8)).toEqual([
      `--heap-growing-percent=${HEAP_GROWING_PERCENT}`,
    ]);
  });

  it('does not mistake a flag that only starts with the same name', () => {
    expect(givenOnCommandLine(['--heap-growing-percentage=5'], 'heap-growing-percent')).toBe(false);
    expect(givenOnCommandLine(['--import', 'x.mjs', '--max-semi-space-size=8'], 'memory-reducer')).toBe(
      false,
    );
  });
});
