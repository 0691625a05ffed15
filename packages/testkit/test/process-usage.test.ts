// processCpuMs and processMemory read this test's own process: figures that grow with work and
// memory held, and null for a process that does not exist.
import { describe, expect, it } from 'vitest';
import { processCpuMs, processMemory } from '../src/process-usage.js';

/** No Linux pid reaches this (pid_max is at most 2^22). */
const NO_SUCH_PID = 2 ** 30;
const SPIN_MS = 200;
const HELD_BYTES = 64 * 1024 * 1024;

describe.runIf(process.platform === 'linux')('process usage', () => {
  it('counts the CPU a busy loop uses, and nothing for a missing process', () => {
    const before = processCpuMs([process.pid]) as number;
    const until = performance.now() + SPIN_MS;
    while (performance.now() < until) {
      // spin
    }
    const used = (processCpuMs([process.pid]) as number) - before;
    // Clock ticks are 10 ms, and a loaded machine may run the loop for less than its wall time.
    expect(used).toBeGreaterThanOrEqual(10);
    expect(processCpuMs([process.pid, NO_SUCH_PID])).toBeNull();
  });

  it('sees memory that is touched, with PSS at most RSS', () => {
    const before = processMemory([process.pid]);
    const held = Buffer.alloc(HELD_BYTES, 1);
    const after = processMemory([process.pid]);
    expect(before).not.toBeNull();
    expect(after!.rssMiB - before!.rssMiB).toBeGreaterThan(HELD_BYTES / 2 ** 20 / 2);
    expect(after!.pssMiB).toBeLessThanOrEqual(after!.rssMiB);
    expect(held[HELD_BYTES - 1]).toBe(1);
    expect(processMemory([NO_SUCH_PID])).toBeNull();
  });
});
