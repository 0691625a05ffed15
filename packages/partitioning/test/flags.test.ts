// Bad start-up flags are named errors (the entry point prints them and exits 2): an unknown
// scheme, fewer partitions than nodes, more copies than nodes, a range pre-split past its limit.
import { ConfigError, parseConfig } from '@ddia/common';
import { describe, expect, it } from 'vitest';
import { checkPartitionConfig, PARTITION_FLAGS } from '../src/partition-service.js';

const PEERS = '--peers=n1=http://127.0.0.1:1,n2=http://127.0.0.1:2,n3=http://127.0.0.1:3';
const parse = (...args: string[]) =>
  parseConfig(['--id=n1', '--port=0', PEERS, ...args], {}, PARTITION_FLAGS);

/** The flag a start with `args` is refused for (parsing or the cross-flag checks), or null. */
function refusedFlag(...args: string[]): string | null {
  try {
    checkPartitionConfig(parse(...args));
    return null;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.flag;
  }
}

describe('start-up flags', () => {
  it('accepts each scheme with at least as many partitions as nodes', () => {
    for (const scheme of ['hash', 'range', 'consistent-hash'])
      expect(refusedFlag(`--scheme=${scheme}`, '--partitions=3')).toBeNull();
  });

  it('names the flag: unknown scheme, partitions < nodes, replicas > nodes, range past 256', () => {
    expect(refusedFlag('--scheme=modulo')).toBe('scheme');
    expect(refusedFlag('--partitions=2')).toBe('partitions');
    expect(refusedFlag('--partitions=8', '--replicas=4')).toBe('replicas');
    expect(refusedFlag('--scheme=range', '--partitions=300')).toBe('partitions');
    // A joining node takes the settings from the controller log: not checked here.
    expect(refusedFlag('--partitions=2', '--join')).toBeNull();
  });
});
