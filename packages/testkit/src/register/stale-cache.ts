// The deliberately broken part (a canary for the checkers): a follower that answers reads from
// a local cache for a while instead of asking the primary. It is fast, and it is not
// linearizable: after a write through another node has been acknowledged, this follower keeps
// returning the old value until its entry expires (DDIA ch. 9, Figure 9-1's stale read).
import type { Clock } from '@ddia/common';
import type { RegisterValue } from './register-store.js';

export const STALE_CACHE_TTL_MS_DEFAULT = 1_000;
export const STALE_CACHE_KEYS_MAX = 10_000;

export class StaleReadCache {
  private readonly entries = new Map<string, { value: RegisterValue; storedMs: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs: number,
  ) {}

  lookup(key: string): { hit: true; value: RegisterValue } | { hit: false } {
    const entry = this.entries.get(key);
    if (!entry) return { hit: false };
    // Wall-clock ages: the clock-skew fault moves them, as it would on a real machine.
    if (this.clock.wallMs() - entry.storedMs > this.ttlMs) {
      this.entries.delete(key);
      return { hit: false };
    }
    return { hit: true, value: entry.value };
  }

  remember(key: string, value: RegisterValue): void {
    if (this.entries.size >= STALE_CACHE_KEYS_MAX && !this.entries.has(key)) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, { value, storedMs: this.clock.wallMs() });
  }
}
