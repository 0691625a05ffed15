import { PollTimeoutError, pollUntil } from '@ddia/common';
import { ManualClock } from '@ddia/common/core';
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

  it('measures the deadline and the pauses on the clock it is given (a manual clock in simulation)', async () => {
    const clock = new ManualClock();
    let calls = 0;
    const wait = pollUntil(
      () => {
        calls++;
        return false;
      },
      { timeoutMs: 1_000, intervalMs: 100, what: 'a simulated deadline', clock },
    );
    const outcome = wait.then(
      () => 'resolved',
      (err: Error) => err.message,
    );
    // Real time passes, simulated time does not: no second check, no timeout.
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(calls).toBe(1);
    for (let step = 0; step < 10; step++) {
      clock.advance(100);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await outcome).toBe('timed out after 1000 ms waiting for a simulated deadline');
    expect(calls).toBe(11); // at 0, 100, ..., 1000 simulated ms
  });
});
