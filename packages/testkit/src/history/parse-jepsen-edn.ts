// Parses a Jepsen history written as EDN maps, either one map per line (Porcupine's kv data,
// Jepsen's history.edn) or one vector of maps:
//   {:process 0, :type :invoke, :f :append, :key "4", :value "x 0 1 y"}
// :time (nanoseconds, as Jepsen records it) becomes timeMs when present; otherwise the
// event's position stands in for it.

import { EdnReader, type EdnValue } from './edn.js';
import { HistoryParseError } from './errors.js';
import { EVENT_TYPES, type EventType, type HistoryEvent } from './event.js';
import { checkPairing } from './parse-jepsen-log.js';

const NANOS_PER_MS = 1_000_000;

export function parseJepsenEdn(text: string): HistoryEvent[] {
  const reader = new EdnReader(text);
  const events: HistoryEvent[] = [];
  const lineOfEvent: number[] = [];
  const addEvent = (value: EdnValue, line: number, column: number): void => {
    const event = toEvent(value, line, column, events.length);
    if (event === undefined) return; // the nemesis and other non-client processes
    events.push(event);
    lineOfEvent.push(line);
  };
  if (reader.atEnd()) throw new HistoryParseError(1, 'at least one {:process .., :type .., :f ..} map');
  // A history written as one vector holds the maps inside it.
  if (!reader.readVectorElements(addEvent)) {
    while (!reader.atEnd()) {
      const line = reader.currentLine;
      const column = reader.currentColumn;
      addEvent(reader.read(), line, column);
    }
  } else if (!reader.atEnd()) {
    throw new HistoryParseError(
      reader.currentLine,
      'end of input after the history vector',
      'more input',
      reader.currentColumn,
    );
  }
  if (events.length === 0) throw new HistoryParseError(1, 'at least one client operation map');
  checkPairing(events, lineOfEvent);
  return events;
}

/**
 * One map of a Jepsen history as an event. Jepsen's fields: :process (an integer, or :nemesis),
 * :type, :f, :value (absent on some :info completions), :key (Porcupine's kv data), :time in
 * nanoseconds, :index (its position; unused: the order of the file is the order of events).
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
