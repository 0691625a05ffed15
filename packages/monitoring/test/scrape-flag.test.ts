// --scrape: targets on the command line (how the lab's monitoring node learns the lab's
// services), checked by the same parser as a scrape config file.
import { describe, expect, it } from 'vitest';
import { loadTargets, scrapeFlagConfig } from '../src/monitoring-node.js';

describe('--scrape', () => {
  it('turns job=host:port,... groups into one static job each', async () => {
    const targets = await loadTargets(
      undefined,
      5_000,
      'kv=127.0.0.1:7001,127.0.0.1:7002;lsm=127.0.0.1:7101',
    );
    expect(targets.map((t) => [t.job, t.address])).toEqual([
      ['kv', '127.0.0.1:7001'],
      ['kv', '127.0.0.1:7002'],
      ['lsm', '127.0.0.1:7101'],
    ]);
    expect(targets.every((t) => t.intervalMs === 5_000)).toBe(true);
  });

  it('refuses a group without a job or targets, and a target that is not host:port', async () => {
    expect(() => scrapeFlagConfig('127.0.0.1:7001')).toThrow(/not job=host:port/);
    expect(() => scrapeFlagConfig('kv=')).toThrow(/has no targets/);
    await expect(loadTargets(undefined, 5_000, 'kv=http://x:1/metrics')).rejects.toThrow(/not host:port/);
  });
});
