// Parses Jepsen's textual log of a history (as in Porcupine's etcd test data):
//   INFO  jepsen.util - <process>\t:<type>\t:<f>\t<value>
// The value is EDN (nil, an integer, [from to], :timed-out). Lines that are not operation
// lines (other loggers, the nemesis) are skipped. The log carries no timestamps, so an
// event's timeMs is its position: the log is in real-time order, which is all the checker uses.

import { readEdn } from './edn.js';
import { HistoryParseError, MalformedHistoryError } from './errors.js';
import type { EventType, HistoryEvent } from './event.js';
import { toOperations } from './operations.js';

/** A line that names a client process is an operation line and must parse completely. */
const OPERATION_LINE = /^\S+\s+jepsen\.util\s+-\s+(\d+)\t(.*)$/;
const OPERATION_FIELDS = /^:(invoke|ok|fail|info)\t:([A-Za-z][\w.*+!?-]*)\t(.*)$/;

export function parseJepsenLog(text: string): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  const lineOfEvent: number[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i].replace(/\r$/, '');
    const head = OPERATION_LINE.exec(line);
    if (head === null) continue;
    const fields = OPERATION_FIELDS.exec(head[2]);
    if (fields === null) {
      throw new HistoryParseError(
        lineNo,
        ':invoke|:ok|:fail|:info, a tab, :<function>, a tab and a value after the process number',
        JSON.stringify(head[2].slice(0, 60)),
      );
    }
    const value = readEdn(fields[3], lineNo);
    events.push({
      process: Number(head[1]),
      type: fields[1] as EventType,
      f: fields[2],
      value,
      timeMs: events.length,
    });
    lineOfEvent.push(lineNo);
  }
  if (events.length === 0) {
    throw new HistoryParseError(
      1,
      'at least one "INFO jepsen.util - <process>\\t:<type>\\t:<f>\\t<value>" line',
    );
  }
  checkPairing(events, lineOfEvent);
  return events;
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
