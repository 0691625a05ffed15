// Windowed stream-stream join (DDIA ch. 11 "Stream-stream join (window join)"; Kafka
// Streams' KStream#join with JoinWindows). Both sides are buffered in state stores, per key,
// for as long as a record of the other side could still match; each arriving record is joined
// with the other side's buffered records inside its window. A pair is therefore emitted once,
// when the second of its two records arrives, whatever the arrival order.
//
// Left and outer joins emit an unmatched record (with null for the missing side) only once no
// match can arrive any more: when stream time passes its retention (joinRetainUntil). Kafka
// Streams 3.1+ likewise delays them to avoid spurious "no match" results followed by a match.
//
// Lateness, per side: a left record at t is late once stream time > t + after + grace (some of
// its partners may already have been dropped from the buffer); a right record with before.
import type { Ctx, Node } from './topology.js';
import { type JoinWindowSpec, joinRetainUntil } from './windows.js';

export type JoinKind = 'inner' | 'left' | 'outer';

/** One buffered record of a side, in a key's list (arrival order). */
export interface BufferedJoinRecord {
  ts: number;
  value: unknown;
  /** Joined at least once (left/outer joins: no null result at expiry). */
  matched: boolean;
}

export interface StreamJoinNodes {
  left: Node;
  right: Node;
  closer: (ctx: Ctx) => void;
}

/**
 * Builds the two input nodes (one per side) and the closer of a windowed join whose results
 * go to `emit`. Stores: `<name>-left` and `<name>-right`, key -> BufferedJoinRecord[].
 */
export function streamJoinNodes(
  name: string,
  spec: JoinWindowSpec,
  kind: JoinKind,
  joiner: (left: unknown, right: unknown, key: string) => unknown,
  emit: Node,
): StreamJoinNodes {
  const stores = { left: `${name}-left`, right: `${name}-right` } as const;
  // In-memory hint (rebuilt by one full scan after a restore): nothing expires before it.
  let nextExpiry = Number.NEGATIVE_INFINITY;

  const side = (self: 'left' | 'right'): Node => {
    const other = self === 'left' ? 'right' : 'left';
    // Window of a record at t over the other side's timestamps: [t - lookBack, t + lookAhead].
    const lookBack = self === 'left' ? spec.beforeMs : spec.afterMs;
    const lookAhead = self === 'left' ? spec.afterMs : spec.beforeMs;
    return (ctx, rec) => {
      if (rec.key === null) return;
      const ts = rec.timestamp;
      if (ctx.streamTime > ts + lookAhead + spec.graceMs) {
        ctx.late++;
        return;
      }
      const partners = ctx.stores.get<BufferedJoinRecord[]>(stores[other], rec.key) ?? [];
      let matched = false;
      let partnersChanged = false;
      const updated = partners.map((p) => {
        if (p.ts < ts - lookBack || p.ts > ts + lookAhead) return p;
        matched = true;
        const [l, r] = self === 'left' ? [rec.value, p.value] : [p.value, rec.value];
        emit(ctx, { key: rec.key, value: joiner(l, r, rec.key!), timestamp: Math.max(ts, p.ts) });
        if (p.matched) return p;
        partnersChanged = true;
        return { ...p, matched: true };
      });
      if (partnersChanged) ctx.stores.put(stores[other], rec.key, updated);
      const mine = ctx.stores.get<BufferedJoinRecord[]>(stores[self], rec.key) ?? [];
      ctx.stores.put(stores[self], rec.key, [...mine, { ts, value: rec.value, matched }]);
      nextExpiry = Math.min(nextExpiry, joinRetainUntil(spec, ts));
    };
  };

  const emitsUnmatched = (s: 'left' | 'right') => kind === 'outer' || (kind === 'left' && s === 'left');

  const closer = (ctx: Ctx) => {
    if (ctx.streamTime <= nextExpiry) return;
    nextExpiry = Number.POSITIVE_INFINITY;
    for (const s of ['left', 'right'] as const) {
      for (const [key, buffered] of ctx.stores.entries<BufferedJoinRecord[]>(stores[s])) {
        const kept: BufferedJoinRecord[] = [];
        for (const b of buffered) {
          const until = joinRetainUntil(spec, b.ts);
          if (ctx.streamTime <= until) {
            kept.push(b);
            nextExpiry = Math.min(nextExpiry, until);
          } else if (!b.matched && emitsUnmatched(s)) {
            const [l, r] = s === 'left' ? [b.value, null] : [null, b.value];
            emit(ctx, { key, value: joiner(l, r, key), timestamp: b.ts });
          }
        }
        if (kept.length === 0) ctx.stores.delete(stores[s], key);
        else if (kept.length !== buffered.length) ctx.stores.put(stores[s], key, kept);
      }
    }
  };

  return { left: side('left'), right: side('right'), closer };
}
