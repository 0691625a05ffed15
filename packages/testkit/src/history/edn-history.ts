// The one reader of Jepsen-style EDN histories, shared by the two formats built on it: Jepsen's
// operation histories (parse-jepsen-edn.ts: register and kv operations, Porcupine's kv data) and
// Elle's transactional histories (parse-elle-edn.ts: :f :txn with micro-operations). A history
// is one map per line (history.edn, Porcupine's data) or one vector of maps; every client map
// becomes a HistoryEvent that remembers the line and column it started at. The nemesis and other
// non-numbered processes are skipped.

import { EdnReader, type EdnValue } from './edn.js';
import { HistoryParseError } from './errors.js';
import { EVENT_TYPES, type EventType, type HistoryEvent } from './event.js';

const NANOS_PER_MS = 1_000_000;

/** A client event of an EDN history and where its map begins in the file (1-based). */
export interface LocatedEvent {
  event: HistoryEvent;
  line: number;
  column: number;
}

/**
 * Reads every client operation map of `text`, in order. `example` shows the expected map in the
 * error raised for an empty file (e.g. `{:process .., :type .., :f ..}`).
 */
export function readEdnHistory(text: string, example: string): LocatedEvent[] {
  const reader = new EdnReader(text);
  const located: LocatedEvent[] = [];
  const visit = (value: EdnValue, line: number, column: number): void => {
    const event = toEvent(value, line, column, located.length);
    if (event !== undefined) located.push({ event, line, column });
  };
  if (reader.atEnd()) throw new HistoryParseError(1, `at least one ${example} map`);
  // A history written as one vector holds the maps inside it.
  if (!reader.readVectorElements(visit)) {
    while (!reader.atEnd()) {
      const line = reader.currentLine;
      const column = reader.currentColumn;
      visit(reader.read(), line, column);
    }
  } else if (!reader.atEnd()) {
    throw new HistoryParseError(
      reader.currentLine,
      'end of input after the history vector',
      'more input',
      reader.currentColumn,
    );
  }
  if (located.length === 0) throw new HistoryParseError(1, 'at least one client operation map');
  return located;
}

/**
 * One map of a Jepsen history as an event, or undefined for a non-client process (:nemesis).
 * Jepsen's fields: :process (an integer, or :nemesis), :type, :f, :value (absent on some :info
 * completions), :key (Porcupine's kv data), :time in nanoseconds (else `position` stands in),
 * :index (its position; unused: the order of the file is the order of events).
 */
export function toEvent(
  value: EdnValue,
  line: number,
  column: number,
  position: number,
): HistoryEvent | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HistoryParseError(
      line,
      'a map such as {:process 0, :type :invoke, :f :read, :value nil}',
      shortForm(value),
      column,
    );
  }
  const process = value.process;
  if (typeof process === 'string' && process.startsWith(':')) return undefined; // :nemesis
  if (typeof process !== 'number' || !Number.isInteger(process)) {
    throw new HistoryParseError(line, 'an integer :process', shortForm(process), column);
  }
  const type = typeof value.type === 'string' ? value.type.slice(1) : undefined;
  if (type === undefined || !EVENT_TYPES.includes(type as EventType)) {
    throw new HistoryParseError(
      line,
      ':type to be :invoke, :ok, :fail or :info',
      shortForm(value.type),
      column,
    );
  }
  const f = value.f;
  if (typeof f !== 'string' || f.length === 0) {
    throw new HistoryParseError(line, 'an :f such as :read', shortForm(f), column);
  }
  const event: HistoryEvent = {
    process,
    type: type as EventType,
    f: f.startsWith(':') ? f.slice(1) : f,
    value: value.value === undefined ? null : value.value,
    timeMs: typeof value.time === 'number' ? value.time / NANOS_PER_MS : position,
  };
  if (value.key !== undefined) {
    const key = value.key;
    if (typeof key !== 'string' && typeof key !== 'number') {
      throw new HistoryParseError(line, 'a string or integer :key', shortForm(key), column);
    }
    event.key = String(key);
  }
  return event;
}

function shortForm(value: EdnValue | undefined): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
