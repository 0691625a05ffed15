// Merkle-tree anti-entropy (DDIA ch. 5): the bytes two replicas exchange grow with the number
// of keys out of sync, not with the number of keys they store, and one exchange syncs both.
import { describe, expect, it } from 'vitest';
import { type AeMessage, AntiEntropy } from '../src/core/anti-entropy.js';
import { applyMutation } from '../src/core/key-state.js';
import { ReplicaStore } from '../src/core/replica-store.js';

const KEYS = 2_000;

function exchange(differing: number) {
  const a = new ReplicaStore();
  const b = new ReplicaStore();
  for (let i = 0; i < KEYS; i++) {
    const state = applyMutation(undefined, { op: 'put', value: `v${i}`, context: null, type: 'mv' }, 'a', 0);
    a.merge(`key${i}`, state);
    if (i >= differing) b.merge(`key${i}`, state);
  }
  const aeA = new AntiEntropy(a, () => true);
  const aeB = new AntiEntropy(b, () => true);
  // Run the exchange to the end, message by message.
  let inFlight: { to: 'a' | 'b'; msg: AeMessage } | null = { to: 'b', msg: aeA.start('b') };
  let messages = 0;
  while (inFlight) {
    const side: AntiEntropy = inFlight.to === 'a' ? aeA : aeB;
    const { answer }: { answer: AeMessage | null } = side.handle(
      inFlight.to === 'a' ? 'b' : 'a',
      inFlight.msg,
    );
    messages++;
    inFlight = answer ? { to: inFlight.to === 'a' ? 'b' : 'a', msg: answer } : null;
  }
  const bytes = aeA.stats.bytesSent + aeB.stats.bytesSent;
  return { bytes, messages, repaired: aeB.stats.keysRepaired, inSync: a.size === b.size };
}

describe('Merkle-tree anti-entropy', () => {
  it('sends nothing beyond the roots when the replicas agree', () => {
    const result = exchange(0);
    expect(result.messages).toBe(1);
    expect(result.repaired).toBe(0);
  });

  it('exchanges bytes in proportion to the keys out of sync, and repairs exactly those', () => {
    const rows = [1, 10, 100].map((differing) => ({ differing, ...exchange(differing) }));
    for (const row of rows) {
      expect(row.repaired).toBe(row.differing);
      expect(row.inSync).toBe(true);
    }
    console.table(
      rows.map((r) => ({ keys: KEYS, outOfSync: r.differing, bytes: r.bytes, messages: r.messages })),
    );
    // 1 key out of sync costs a small fraction of shipping every key.
    expect(rows[0]!.bytes).toBeLessThan(rows[2]!.bytes);
    expect(rows[0]!.bytes * 10).toBeLessThan(KEYS * 60);
  });
});
