import { PollTimeoutError, pollUntil } from '@ddia/common';
import { describe, expect, it } from 'vitest';

describe('pollUntil', () => {
  it('resolves with the first value that is not undefined or false', async () => {
    let calls = 0;
    const got = await pollUntil(() => (++calls === 3 ? { ready: calls } : undefined), {
      timeoutMs: 5_000,
      intervalMs: 1,
      what: 'the third call',
    });
    expect(got).toEqual({ ready: 3 });
    expect(calls).toBe(3);
  });

  it('accepts async checks and falsy values other than undefined and false (0, "")', async () => {
    expect(await pollUntil(async () => 0, { timeoutMs: 100, what: 'zero' })).toBe(0);
    expect(await pollUntil(() => '', { timeoutMs: 100, what: 'empty' })).toBe('');
  });

  it('fails with a named error that says what it waited for and how long', async () => {
    let calls = 0;
    const wait = pollUntil(
      () => {
        calls++;
        return false;
      },
      { timeoutMs: 60, intervalMs: 10, what: 'kv-n1 to answer /health' },
    );
    await expect(wait).rejects.toBeInstanceOf(PollTimeoutError);
    await expect(wait).rejects.toThrow('timed out after 60 ms waiting for kv-n1 to answer /health');
    expect(calls).toBeGreaterThan(1);
    expect(calls).toBeLessThanOrEqual(7);
  });

  it('ends the wait with the check’s own exception', async () => {
    await expect(
      pollUntil(
        () => {
          throw new Error('process exited');
        },
        { timeoutMs: 1_000, what: 'a dead process' },
      ),
    ).rejects.toThrow('process exited');
  });
});
