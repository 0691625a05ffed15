// Parses Jepsen's textual log of a history (as in Porcupine's etcd test data):
//   INFO  jepsen.util - <process>\t:<type>\t:<f>\t<value>
// Fields may be separated by any run of tabs and spaces (published logs use both), and the
// logger's prefix may carry a timestamp and thread, as newer Jepsen versions write it:
//   2017-03-30 12:34:56,789{GMT}\tINFO\t[jepsen worker 3] jepsen.util: 3\t:invoke\t:read\tnil
// The value is EDN (nil, an integer, [from to], :timed-out, nested maps...) and may be absent
// (an :info completion without a value reads as nil). Lines that are not operation lines (other
// loggers, the nemesis, which is not a numbered process) are skipped. The log carries no
// per-operation timestamps that the checker needs, so an event's timeMs is its position: the log
// is in real-time order, which is all the checker uses.

import { readEdn } from './edn.js';
import { HistoryParseError, MalformedHistoryError } from './errors.js';
import type { EventType, HistoryEvent } from './event.js';
import { toOperations } from './operations.js';

/** A line whose logger is jepsen.util and whose first field is a process number is an operation line. */
const OPERATION_HEAD = /(?:^|\s)jepsen\.util(?:[ \t]+-|:)[ \t]+(\d+)(?=[ \t]|$)/;
const TYPE_FIELD = /[ \t]+:(invoke|ok|fail|info)(?=[ \t]|$)/y;
const F_FIELD = /[ \t]+:([A-Za-z][\w.*+!?/-]*)(?=[ \t]|$)/y;
const SPACE = /[ \t]*/y;

/** A parsed history with the 1-based line of the file each event came from. */
export interface LocatedHistory {
  events: HistoryEvent[];
  lines: number[];
}

export function parseJepsenLog(text: string): HistoryEvent[] {
  return parseJepsenLogLocated(text).events;
}

/** As parseJepsenLog, with the line of each event. */
export function parseJepsenLogLocated(text: string): LocatedHistory {
  const events: HistoryEvent[] = [];
  const lineOfEvent: number[] = [];
  let lineNo = 0;
  let from = 0;
  while (from <= text.length) {
    let to = text.indexOf('\n', from);
    if (to < 0) to = text.length;
    let line = text.slice(from, to);
    from = to + 1;
    lineNo++;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    const head = OPERATION_HEAD.exec(line);
    if (head === null) continue;
    let pos = head.index + head[0].length;
    const field = (pattern: RegExp, expected: string): string => {
      pattern.lastIndex = pos;
      const match = pattern.exec(line);
      if (match === null) {
        SPACE.lastIndex = pos;
        SPACE.exec(line);
        const at = SPACE.lastIndex;
        const found = line.slice(at).split(/[ \t]/)[0];
        throw new HistoryParseError(
          lineNo,
          expected,
          found.length === 0 ? 'end of line' : JSON.stringify(found.slice(0, 40)),
          at + 1,
        );
      }
      pos = pattern.lastIndex;
      return match[1];
    };
    const type = field(TYPE_FIELD, 'the type :invoke, :ok, :fail or :info after the process number');
    const f = field(F_FIELD, "the operation's function, a keyword such as :read, after the type");
    SPACE.lastIndex = pos;
    SPACE.exec(line);
    const valueStart = SPACE.lastIndex;
    const valueText = line.slice(valueStart).trimEnd();
    const value = valueText.length === 0 ? null : readEdn(valueText, lineNo, valueStart + 1);
    events.push({ process: Number(head[1]), type: type as EventType, f, value, timeMs: events.length });
    lineOfEvent.push(lineNo);
  }
  if (events.length === 0) {
    throw new HistoryParseError(
      1,
      'at least one "INFO jepsen.util - <process> :<type> :<f> <value>" line (fields separated by tabs or spaces)',
    );
  }
  checkPairing(events, lineOfEvent);
  return { events, lines: lineOfEvent };
}

/** Rethrows a pairing problem as a parse error on the offending line. */
export function checkPairing(events: HistoryEvent[], lineOfEvent: readonly number[]): void {
  try {
    toOperations(events);
  } catch (error) {
    if (error instanceof MalformedHistoryError) {
      throw new HistoryParseError(lineOfEvent[error.eventIndex] ?? 1, error.expected);
    }
    throw error;
  }
}
