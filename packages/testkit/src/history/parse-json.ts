// Parses the history files our recorder writes: a JSON array of HistoryEvent objects (one per
// line when written by HistoryRecorder.writeFile), or JSON lines (one event object per line).

import { HistoryParseError } from './errors.js';
import type { HistoryEvent } from './event.js';
import { eventShapeProblem } from './operations.js';
import { checkPairing, type LocatedHistory } from './parse-jepsen-log.js';

export function parseJsonHistory(text: string): HistoryEvent[] {
  return parseJsonHistoryLocated(text).events;
}

/** As parseJsonHistory, with the line each event starts on. */
export function parseJsonHistoryLocated(text: string): LocatedHistory {
  const trimmed = text.trimStart();
  if (trimmed.length === 0)
    throw new HistoryParseError(1, 'a JSON array of events or JSON lines', 'an empty file');
  const parsed = trimmed.startsWith('[') ? parseArray(text) : parseLines(text);
  const events: HistoryEvent[] = [];
  for (const { value, line } of parsed) {
    const problem = eventShapeProblem(value);
    if (problem !== undefined) throw new HistoryParseError(line, problem);
    const e = value as HistoryEvent;
    const event: HistoryEvent = {
      process: e.process,
      type: e.type,
      f: e.f,
      value: e.value ?? null,
      timeMs: e.timeMs,
    };
    if (e.key !== undefined) event.key = e.key;
    events.push(event);
  }
  if (events.length === 0) throw new HistoryParseError(1, 'at least one event');
  const lines = parsed.map((p) => p.line);
  checkPairing(events, lines);
  return { events, lines };
}

interface Located {
  value: unknown;
  line: number;
}

function parseLines(text: string): Located[] {
  const out: Located[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line.length === 0) continue;
    try {
      out.push({ value: JSON.parse(line), line: i + 1 });
    } catch (error) {
      throw new HistoryParseError(i + 1, 'one JSON event object per line', (error as Error).message);
    }
  }
  return out;
}

function parseArray(text: string): Located[] {
  let all: unknown;
  try {
    all = JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    const at = positionOfSyntaxError(text, message);
    throw new HistoryParseError(at.line, 'valid JSON (an array of events)', message, at.column);
  }
  if (!Array.isArray(all)) throw new HistoryParseError(1, 'a JSON array of events');
  const starts = elementLines(text);
  return all.map((value, i) => ({ value, line: starts[i] ?? 1 }));
}

/**
 * Where the syntax error is, as line and column. Newer V8 reports "(line L column C)", older
 * "at position N"; Node 20 often gives neither ("Unexpected token ']' ... is not valid JSON").
 * Then parse element by element to find it.
 */
function positionOfSyntaxError(text: string, message: string): { line: number; column: number } {
  const lineMatch = /line (\d+) column (\d+)/.exec(message);
  if (lineMatch !== null) return { line: Number(lineMatch[1]), column: Number(lineMatch[2]) };
  const posMatch = /position (\d+)/.exec(message);
  if (posMatch !== null) return positionAt(text, Number(posMatch[1]));
  for (const span of elementSpans(text)) {
    try {
      JSON.parse(text.slice(span.start, span.end));
    } catch (error) {
      const inner = /position (\d+)/.exec((error as Error).message);
      return positionAt(text, span.start + (inner === null ? 0 : Number(inner[1])));
    }
  }
  // Every element parses alone: the array itself is broken (a trailing comma, no closing ']'),
  // or the text ends inside an element.
  if (/,\s*\]\s*$/.test(text)) return positionAt(text, text.lastIndexOf(']'));
  return positionAt(text, text.trimEnd().length);
}

/** 1-based line and column of an offset. */
function positionAt(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: Math.min(offset, text.length) - lineStart + 1 };
}

/** The line on which each top-level array element starts. */
function elementLines(text: string): number[] {
  return elementSpans(text).map((span) => span.line);
}

/** Where each top-level array element starts and ends (a scan that respects strings). */
function elementSpans(text: string): { start: number; end: number; line: number }[] {
  const spans: { start: number; end: number; line: number }[] = [];
  let line = 1;
  let depth = 0;
  let inString = false;
  let open: { start: number; line: number } | undefined;
  const close = (end: number): void => {
    if (open !== undefined) spans.push({ start: open.start, end, line: open.line });
    open = undefined;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\n') line++;
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n') continue;
    if (depth === 1 && open === undefined && ch !== ']' && ch !== ',') open = { start: i, line };
    if (ch === '"') inString = true;
    else if (ch === '[' || ch === '{') depth++;
    else if (ch === ']' || ch === '}') {
      depth--;
      if (depth === 0) close(i);
    } else if (ch === ',' && depth === 1) close(i);
  }
  return spans;
}
