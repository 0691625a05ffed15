// The Jepsen runs' canary: a history the checker must reject, built from a real run's history,
// so that a checker which accepts everything cannot pass the runs.
import { type HistoryEvent, toOperations } from '@ddia/testkit';

/**
 * One key's history with a stale read added. Where the run overwrote an acknowledged put, the
 * read returns the overwritten value right after the earliest overwrite. Where it did not (a
 * run cut short by faults), the case is built: after the history's end, a put of a fresh value
 * to a key the run wrote, then a read of the value it had before. Either way the canary runs.
 */
export function staleReadCanary(history: HistoryEvent[]): HistoryEvent[] {
  const puts = toOperations(history).filter((op) => op.f === 'put' && op.status === 'ok');
  if (puts.length === 0) throw new Error('the run acknowledged no put, so no canary can be built');
  let best: { stale: (typeof puts)[number]; afterMs: number } | null = null;
  for (const b of puts) {
    const a = puts.find((x) => x.key === b.key && x.completeMs < b.invokeMs && x.input !== b.input);
    if (a && (best === null || b.completeMs < best.afterMs)) best = { stale: a, afterMs: b.completeMs };
  }
  const extra: HistoryEvent[] = [];
  if (best === null) {
    // No overwrite in the run: overwrite the last acknowledged put ourselves, after everything.
    const stale = puts.reduce((x, y) => (y.completeMs > x.completeMs ? y : x));
    const endMs = Math.max(...history.map((e) => e.timeMs));
    const key = stale.key as string;
    extra.push(
      { process: 999_998, type: 'invoke', f: 'put', key, value: 'canary-overwrite', timeMs: endMs + 1 },
      { process: 999_998, type: 'ok', f: 'put', key, value: 'canary-overwrite', timeMs: endMs + 2 },
    );
    best = { stale, afterMs: endMs + 2 };
  }
  const { stale, afterMs } = best;
  const key = stale.key as string;
  const canary: HistoryEvent[] = [
    ...history.filter((e) => e.key === key),
    ...extra,
    { process: 999_999, type: 'invoke', f: 'get', key, value: null, timeMs: afterMs + 0.001 },
    { process: 999_999, type: 'ok', f: 'get', key, value: stale.input, timeMs: afterMs + 0.002 },
  ];
  canary.sort((x, y) => x.timeMs - y.timeMs);
  return canary;
}
