// Windowed stream-stream join (Kafka Streams' JoinWindows): DDIA ch. 11's example of joining
// search events with click events of the same session within a time window. Pairs within the
// window join once, whatever the arrival order; left/outer joins emit the unmatched only when
// no partner can arrive any more; late records are dropped; a seeded out-of-order run equals
// a brute-force join, also across crash-and-restore from the changelog.
import { SeededRandom } from '@ddia/common/core';
import { describe, expect, it } from 'vitest';
import {
  type JoinKind,
  joinWindows,
  type OutputRecord,
  type Processor,
  StreamBuilder,
  type StreamRecord,
} from '../src/core/index.js';

type Search = { q: string };
type Click = { url: string };

function searchClicks(kind: JoinKind, windows = joinWindows(10, { graceMs: 5 })): Processor {
  const b = new StreamBuilder();
  const searches = b.stream<Search>('searches');
  const clicks = b.stream<Click>('clicks');
  const joiner = (s: Search | null, c: Click | null) => `${s?.q ?? '-'}>${c?.url ?? '-'}`;
  if (kind === 'inner') searches.joinStream(clicks, joiner, windows, { name: 'sc' }).to('out');
  else if (kind === 'left') searches.joinStream(clicks, joiner, windows, { name: 'sc', kind }).to('out');
  else searches.joinStream(clicks, joiner, windows, { name: 'sc', kind }).to('out');
  // One stream time over both inputs (the largest event time seen), as one Kafka Streams task
  // has for co-partitioned inputs: these tests move time with either side alone. The default,
  // the minimum over the inputs, would wait for the other side (streams-watermark.test.ts).
  return b.build({ streamTime: 'max' });
}

function feeder(p: Processor) {
  const offsets: Record<string, number> = {};
  return (topic: 'searches' | 'clicks', key: string, value: unknown, timestamp: number) => {
    offsets[topic] ??= 0;
    return p.process({ topic, partition: 0, offset: offsets[topic]++, key, value, timestamp });
  };
}

const values = (outputs: OutputRecord[]) => outputs.map((o) => [o.key, o.value, o.timestamp]);

describe('windowed stream-stream join', () => {
  it('inner: pairs within ±10 ms join once, in either arrival order, stamped with the later time', () => {
    const feed = feeder(searchClicks('inner'));
    expect(feed('searches', 'u1', { q: 'kafka' }, 100).outputs).toEqual([]);
    expect(values(feed('clicks', 'u1', { url: 'a' }, 105).outputs)).toEqual([['u1', 'kafka>a', 105]]);
    // A click before the search, arriving after it: still within 10 ms.
    expect(values(feed('clicks', 'u1', { url: 'b' }, 92).outputs)).toEqual([['u1', 'kafka>b', 100]]);
    expect(feed('clicks', 'u1', { url: 'c' }, 111).outputs).toEqual([]); // 11 ms: outside
    expect(feed('clicks', 'u2', { url: 'd' }, 100).outputs).toEqual([]); // another key
    // A second search joins the buffered clicks in its window [93, 113], in arrival order.
    expect(values(feed('searches', 'u1', { q: 'flink' }, 103).outputs)).toEqual([
      ['u1', 'flink>a', 105],
      ['u1', 'flink>c', 111],
    ]);
  });

  it('asymmetric windows: a click may follow its search by 20 ms but never precede it', () => {
    const feed = feeder(searchClicks('inner', joinWindows(0, { beforeMs: 0, afterMs: 20, graceMs: 50 })));
    feed('searches', 'u', { q: 's' }, 100);
    expect(feed('clicks', 'u', { url: 'early' }, 99).outputs).toEqual([]);
    expect(feed('clicks', 'u', { url: 'on-time' }, 120).outputs).toHaveLength(1);
    expect(feed('clicks', 'u', { url: 'too-late' }, 121).outputs).toEqual([]);
    expect(() => joinWindows(-1)).toThrow(RangeError);
  });

  it('left join: an unmatched search is emitted with null once no click can join it; a matched one never', () => {
    const feed = feeder(searchClicks('left'));
    feed('searches', 'u', { q: 'lonely' }, 100);
    feed('searches', 'v', { q: 'found' }, 100);
    expect(values(feed('clicks', 'v', { url: 'x' }, 104).outputs)).toEqual([['v', 'found>x', 104]]);
    // Retention: 100 + before 10 + after 10 + grace 5 = 125; stream time 125 keeps it.
    expect(feed('clicks', 'w', { url: 'y' }, 125).outputs).toEqual([]);
    expect(values(feed('clicks', 'w', { url: 'z' }, 126).outputs)).toEqual([['u', 'lonely>-', 100]]);
    expect(feed('clicks', 'w', { url: 'z' }, 400).outputs.map((o) => o.value)).toEqual([]); // clicks: inner side
  });

  it('outer join: unmatched records of both sides come out once, after retention', () => {
    const feed = feeder(searchClicks('outer'));
    feed('searches', 'u', { q: 'q1' }, 0);
    feed('clicks', 'v', { url: 'c1' }, 1);
    const out = feed('searches', 'z', { q: 'tick' }, 1000).outputs;
    expect(values(out)).toEqual([
      ['u', 'q1>-', 0],
      ['v', '->c1', 1],
    ]);
  });

  it('records later than after + grace are dropped and reported', () => {
    const feed = feeder(searchClicks('inner'));
    feed('clicks', 'u', { url: 'a' }, 100);
    feed('clicks', 'u', { url: 'b' }, 200);
    // Stream time 200: a search at 184 could still join clicks up to 194; 184 + 10 + 5 < 200.
    const late = feed('searches', 'u', { q: 'late' }, 184);
    expect(late.late).toBe(1);
    expect(late.outputs).toEqual([]);
    expect(feed('searches', 'u', { q: 'ok' }, 190).outputs.map((o) => o.value)).toEqual(['ok>b']);
  });

  it('seeded disorder within grace, with crash-and-restore: the same pairs as a brute-force join', () => {
    const random = new SeededRandom(2024);
    const spec = joinWindows(15, { graceMs: 30 });
    type Ev = { topic: 'searches' | 'clicks'; key: string; ts: number; id: number };
    const events: Ev[] = Array.from({ length: 600 }, (_, id) => ({
      topic: random.chance(0.5) ? 'searches' : 'clicks',
      key: `u${random.int(0, 3)}`,
      ts: id * 2,
      id,
    }));
    // Arrival order: each event moves by less than the grace period.
    const arrival = events
      .map((e) => ({ e, at: e.ts + random.int(0, 29) }))
      .sort((a, b) => a.at - b.at || a.e.id - b.e.id)
      .map((x) => x.e);
    const expected: string[] = [];
    for (const s of events)
      for (const c of events)
        if (s.topic === 'searches' && c.topic === 'clicks' && s.key === c.key && Math.abs(s.ts - c.ts) <= 15)
          expected.push(`${s.id}>${c.id}`);

    const build = () => {
      const b = new StreamBuilder();
      b.stream<number>('searches')
        .joinStream(b.stream<number>('clicks'), (s, c) => `${s}>${c}`, spec, { name: 'j' })
        .to('out');
      return b.build();
    };
    const offsets = { searches: 0, clicks: 0 };
    const records: StreamRecord[] = arrival.map((e) => ({
      topic: e.topic,
      partition: 0,
      offset: offsets[e.topic]++,
      key: e.key,
      value: e.id,
      timestamp: e.ts,
    }));
    const changelog: ReturnType<Processor['stores']['drainChanges']> = [];
    let p = build();
    const got: string[] = [];
    let late = 0;
    for (const [i, r] of records.entries()) {
      const result = p.process(r);
      late += result.late;
      got.push(...result.outputs.map((o) => o.value as string));
      if (i % 97 === 96) {
        // Crash: a new processor restored from the changelog gets the last 20 records again.
        changelog.push(...p.stores.drainChanges());
        p = build();
        for (const c of changelog) p.stores.restore(c);
        for (const again of records.slice(i - 19, i + 1)) expect(p.process(again).duplicate).toBe(true);
      }
    }
    expect(late).toBe(0);
    expect(got.sort()).toEqual(expected.sort());
    expect(expected.length).toBeGreaterThan(300);
    // Buffers are bounded: only records within retention of the last stream time remain.
    const buffered = [...p.stores.entries<unknown[]>('j-left'), ...p.stores.entries<unknown[]>('j-right')];
    expect(buffered.reduce((n, [, list]) => n + list.length, 0)).toBeLessThan(60);
  });
});
