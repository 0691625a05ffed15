// Parses a Jepsen history written as EDN maps, either one map per line (Porcupine's kv data,
// Jepsen's history.edn) or one vector of maps:
//   {:process 0, :type :invoke, :f :append, :key "4", :value "x 0 1 y"}
// :time (nanoseconds, as Jepsen records it) becomes timeMs when present; otherwise the
// event's position stands in for it. The EDN reading is edn-history.ts's (shared with Elle's
// transactional format); this adapter only checks that invocations and completions pair up.

import { readEdnHistory } from './edn-history.js';
import type { HistoryEvent } from './event.js';
import { checkPairing, type LocatedHistory } from './parse-jepsen-log.js';

export function parseJepsenEdn(text: string): HistoryEvent[] {
  return parseJepsenEdnLocated(text).events;
}

/** As parseJepsenEdn, with the line each event starts on. */
export function parseJepsenEdnLocated(text: string): LocatedHistory {
  const located = readEdnHistory(text, '{:process .., :type .., :f ..}');
  const events = located.map((l) => l.event);
  const lines = located.map((l) => l.line);
  checkPairing(events, lines);
  return { events, lines };
}
