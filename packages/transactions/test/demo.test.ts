import { describe, expect, it } from 'vitest';
import { runTransactionsDemo } from '../src/demo/demo.js';

describe('ddia demo transactions: the book’s stories at every level', () => {
  it('shows each anomaly exactly at the levels the book says allow it', async () => {
    const lines: string[] = [];
    const outcomes = await runTransactionsDemo({ log: (l) => lines.push(l) });
    const happened = (story: string) =>
      outcomes
        .filter((o) => o.story === story && o.anomaly)
        .map((o) => o.isolation)
        .sort();
    expect(happened('dirty read')).toEqual(['read-uncommitted']);
    expect(happened('lost update (counter)')).toEqual(['read-committed', 'read-uncommitted']);
    expect(happened('read skew (bank transfer)')).toEqual(['read-committed', 'read-uncommitted']);
    expect(happened('write skew (doctors on call)')).toEqual([
      'read-committed',
      'read-uncommitted',
      'repeatable-read',
    ]);
    expect(happened('double booking (phantom)')).toEqual([
      'read-committed',
      'read-uncommitted',
      'repeatable-read',
    ]);
    expect(lines.join('\n')).toContain('Figure 7-8');
  });
});
