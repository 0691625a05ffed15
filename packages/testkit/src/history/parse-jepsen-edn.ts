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
  const addEvent = (value: EdnValue, line: number): void => {
    const event = toEvent(value, line, events.length);
    if (event === undefined) return; // the nemesis and other non-client processes
    events.push(event);
    lineOfEvent.push(line);
  };
  if (reader.atEnd()) throw new HistoryParseError(1, 'at least one {:process .., :type .., :f ..} map');
  // A history written as one vector holds the maps inside it.
  if (text.trimStart().startsWith('[')) {
    const line = reader.currentLine;
    const all = reader.read();
    if (!Array.isArray(all)) throw new HistoryParseError(line, 'a vector of maps');
    // Lines inside one vector are not tracked per element; report the vector's first line.
    for (const value of all) addEvent(value, line);
  } else {
    while (!reader.atEnd()) {
      const line = reader.currentLine;
      addEvent(reader.read(), line);
    }
  }
  if (events.length === 0) throw new HistoryParseError(1, 'at least one client operation map');
  checkPairing(events, lineOfEvent);
  return events;
}

function toEvent(value: EdnValue, line: number, position: number): HistoryEvent | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HistoryParseError(line, 'a map such as {:process 0, :type :invoke, :f :read, :value nil}');
  }
  const process = value.process;
  if (typeof process === 'string' && process.startsWith(':')) return undefined; // :nemesis
  if (typeof process !== 'number' || !Number.isInteger(process)) {
    throw new HistoryParseError(line, 'an integer :process', JSON.stringify(process));
  }
  const type = typeof value.type === 'string' ? value.type.slice(1) : undefined;
  if (type === undefined || !EVENT_TYPES.includes(type as EventType)) {
    throw new HistoryParseError(line, ':type to be :invoke, :ok, :fail or :info', JSON.stringify(value.type));
  }
  const f = value.f;
  if (typeof f !== 'string' || f.length === 0) throw new HistoryParseError(line, 'an :f such as :read');
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
      throw new HistoryParseError(line, 'a string or integer :key', JSON.stringify(key));
    }
    event.key = String(key);
  }
  return event;
}
