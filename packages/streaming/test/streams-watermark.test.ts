// Stream time per partition (the watermark): with two source partitions, one far ahead in
// event time (a backlog read first, a slow producer on the other), one global stream time
// closes the slow partition's windows before its records arrive and drops them as late; the
// per-partition watermark (the minimum of the partitions' own times) holds the windows open
// until every partition has passed them, and an idle partition stops holding them.
import { SeededRandom } from '@ddia/common/core';
import { describe, expect, it } from 'vitest';
import {
  type OutputRecord,
  type Processor,
  StreamBuilder,
  type StreamTimeMode,
  tumbling,
  type Windowed,
} from '../src/core/index.js';

const SIZE_MS = 10;

function windowedCount(mode: StreamTimeMode): Processor {
  const b = new StreamBuilder();
  b.stream('clicks')
    .groupByKey()
    .windowedBy(tumbling(SIZE_MS, { graceMs: 0 }))
    .count('per-window', { emit: 'final' })
    .to('counts');
  const p = b.build({ streamTime: mode });
  p.declarePartitions('clicks', [0, 1]);
  return p;
}

interface Click {
  partition: number;
  key: string;
  timestamp: number;
}

/** The next offset per partition of each processor (several runs may feed one processor). */
const nextOffsets = new WeakMap<Processor, number[]>();

function run(p: Processor, clicks: Click[]) {
  const offsets = nextOffsets.get(p) ?? [0, 0];
  nextOffsets.set(p, offsets);
  const finals = new Map<string, number>();
  let late = 0;
  for (const c of clicks) {
    const r = p.process({
      topic: 'clicks',
      partition: c.partition,
      offset: offsets[c.partition]!++,
      key: c.key,
      value: {},
      timestamp: c.timestamp,
    });
    late += r.late;
    for (const o of r.outputs as OutputRecord[]) {
      const w = o.value as Windowed<number>;
      finals.set(`${w.key}@${w.start}`, w.value);
    }
  }
  return { finals, late };
}

/** The batch answer: every window of every key whose end the watermark has passed. */
function batchCounts(clicks: Click[], watermark: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of clicks) {
    const start = Math.floor(c.timestamp / SIZE_MS) * SIZE_MS;
    if (start + SIZE_MS > watermark) continue;
    const k = `${c.key}@${start}`;
    out.set(k, (out.get(k) ?? 0) + 1);
  }
  return out;
}

const fast = Array.from({ length: 20 }, (_, i): Click => ({ partition: 0, key: 'a', timestamp: i * 5 }));
const slow = Array.from({ length: 10 }, (_, i): Click => ({ partition: 1, key: 'b', timestamp: i * 5 }));

describe('stream time per partition (watermarks)', () => {
  it("one global stream time: the partition ahead closes the slow one's windows, its records are dropped", () => {
    const { finals, late } = run(windowedCount('max'), [...fast, ...slow]);
    expect(late).toBe(slow.length);
    expect([...finals.keys()].some((k) => k.startsWith('b@'))).toBe(false);
  });

  it('per-partition: windows stay open until both partitions pass them; nothing is late', () => {
    const p = windowedCount('per-partition');
    const { finals, late } = run(p, [...fast, ...slow]);
    expect(late).toBe(0);
    // The slow partition reached 45: windows ending at or before 45 are final, for both keys.
    expect(p.streamTime).toBe(45);
    expect(finals).toEqual(batchCounts([...fast, ...slow], 45));
    expect(finals.get('b@0')).toBe(2);
  });

  it('an idle partition (read to its end) stops holding the others back', () => {
    const p = windowedCount('per-partition');
    const first = run(p, fast.slice(0, 10));
    expect(first.finals.size).toBe(0); // partition 1 not seen: nothing may close
    p.markIdle('clicks', 1);
    const rest = run(p, fast.slice(10));
    expect(p.streamTime).toBe(95);
    expect(rest.finals).toEqual(batchCounts(fast, 95));
  });

  it('seeded interleavings of two in-order partitions with any skew: never late, finals equal the batch answer', () => {
    let maxModeLate = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const random = new SeededRandom(seed);
      const parts = [0, 1].map((partition) => {
        let t = random.int(0, 200);
        return Array.from({ length: random.int(5, 40) }, (): Click => {
          t += random.int(0, 7);
          return { partition, key: random.pick(['x', 'y', 'z']), timestamp: t };
        });
      });
      // Interleave the two partitions in a random order (each one stays in order).
      const clicks: Click[] = [];
      const at = [0, 0];
      while (at[0]! < parts[0]!.length || at[1]! < parts[1]!.length) {
        const pick = at[0]! >= parts[0]!.length ? 1 : at[1]! >= parts[1]!.length ? 0 : random.int(0, 1);
        clicks.push(parts[pick]![at[pick]!++]!);
      }
      const p = windowedCount('per-partition');
      const { finals, late } = run(p, clicks);
      const watermark = Math.min(...parts.map((ps) => ps[ps.length - 1]!.timestamp));
      expect({ seed, late }).toEqual({ seed, late: 0 });
      expect(p.streamTime).toBe(watermark);
      expect(finals).toEqual(batchCounts(clicks, watermark));
      maxModeLate += run(windowedCount('max'), clicks).late;
    }
    // The same interleavings under one global stream time do lose records (the canary).
    expect(maxModeLate).toBeGreaterThan(0);
  });
});
