// A reader for the subset of EDN (https://github.com/edn-format/edn) that Jepsen writes in
// histories: nil, booleans, numbers, strings, keywords, symbols, vectors, lists, sets, maps
// and tagged values. Keywords become the string ":name" so that values stay JSON-friendly;
// maps become plain objects keyed by the keyword's or string's name.

import { HistoryParseError } from './errors.js';

export type EdnValue = null | boolean | number | string | EdnValue[] | { [key: string]: EdnValue };

const DELIMITERS = new Set(['(', ')', '[', ']', '{', '}', '"', ';']);

function isWhitespace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === ',';
}

/** Reads EDN forms from `text`; `firstLine` numbers the text's first line in error messages. */
export class EdnReader {
  private pos = 0;
  private line: number;

  constructor(
    private readonly text: string,
    firstLine = 1,
  ) {
    this.line = firstLine;
  }

  get currentLine(): number {
    return this.line;
  }

  /** True when only whitespace and comments remain. */
  atEnd(): boolean {
    this.skipSpace();
    return this.pos >= this.text.length;
  }

  read(): EdnValue {
    this.skipSpace();
    if (this.pos >= this.text.length) throw new HistoryParseError(this.line, 'an EDN value', 'end of input');
    const ch = this.text[this.pos];
    switch (ch) {
      case '[':
      case '(':
        this.pos++;
        return this.readSeq(ch === '[' ? ']' : ')');
      case '{':
        this.pos++;
        return this.readMap();
      case '"':
        return this.readString();
      case '#':
        return this.readDispatch();
      case ']':
      case ')':
      case '}':
        throw new HistoryParseError(this.line, 'an EDN value', `'${ch}'`);
      default:
        return this.readAtom();
    }
  }

  private skipSpace(): void {
    const text = this.text;
    while (this.pos < text.length) {
      const ch = text[this.pos];
      if (ch === '\n') {
        this.line++;
        this.pos++;
      } else if (isWhitespace(ch)) {
        this.pos++;
      } else if (ch === ';') {
        while (this.pos < text.length && text[this.pos] !== '\n') this.pos++;
      } else {
        return;
      }
    }
  }

  private readSeq(close: string): EdnValue[] {
    const items: EdnValue[] = [];
    for (;;) {
      this.skipSpace();
      if (this.pos >= this.text.length) throw new HistoryParseError(this.line, `'${close}'`, 'end of input');
      if (this.text[this.pos] === close) {
        this.pos++;
        return items;
      }
      items.push(this.read());
    }
  }

  private readMap(): { [key: string]: EdnValue } {
    const map: { [key: string]: EdnValue } = {};
    for (;;) {
      this.skipSpace();
      if (this.pos >= this.text.length) throw new HistoryParseError(this.line, "'}'", 'end of input');
      if (this.text[this.pos] === '}') {
        this.pos++;
        return map;
      }
      const keyLine = this.line;
      const key = this.read();
      this.skipSpace();
      if (this.pos >= this.text.length || this.text[this.pos] === '}') {
        throw new HistoryParseError(this.line, `a value for map key ${JSON.stringify(key)}`);
      }
      const value = this.read();
      const name = typeof key === 'string' ? (key.startsWith(':') ? key.slice(1) : key) : JSON.stringify(key);
      if (Object.hasOwn(map, name))
        throw new HistoryParseError(keyLine, `distinct map keys, ${name} repeats`);
      map[name] = value;
    }
  }

  private readString(): string {
    const start = this.line;
    this.pos++; // opening quote
    let out = '';
    const text = this.text;
    while (this.pos < text.length) {
      const ch = text[this.pos++];
      if (ch === '"') return out;
      if (ch === '\n') this.line++;
      if (ch !== '\\') {
        out += ch;
        continue;
      }
      const esc = text[this.pos++];
      switch (esc) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case '"':
        case '\\':
          out += esc;
          break;
        case 'u': {
          const hex = text.slice(this.pos, this.pos + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex))
            throw new HistoryParseError(this.line, 'four hex digits after \\u', hex);
          out += String.fromCharCode(Number.parseInt(hex, 16));
          this.pos += 4;
          break;
        }
        default:
          throw new HistoryParseError(
            this.line,
            'a string escape (\\n \\t \\r \\" \\\\ \\u)',
            `\\${esc ?? ''}`,
          );
      }
    }
    throw new HistoryParseError(start, "a closing '\"'", 'end of input');
  }

  private readDispatch(): EdnValue {
    const next = this.text[this.pos + 1];
    if (next === '{') {
      this.pos += 2;
      return this.readSeq('}'); // a set, read as an array
    }
    if (next === '_') {
      this.pos += 2;
      this.read(); // discard the next form
      return this.read();
    }
    // A tagged value (#inst "...", #jepsen.history.Op{...}): keep the tagged form's value.
    this.pos++;
    const tag = this.readToken();
    if (tag.length === 0) throw new HistoryParseError(this.line, 'a tag after #');
    return this.read();
  }

  private readToken(): string {
    const start = this.pos;
    const text = this.text;
    while (this.pos < text.length && !isWhitespace(text[this.pos]) && !DELIMITERS.has(text[this.pos]))
      this.pos++;
    return text.slice(start, this.pos);
  }

  private readAtom(): EdnValue {
    const token = this.readToken();
    if (token.length === 0)
      throw new HistoryParseError(this.line, 'an EDN value', `'${this.text[this.pos]}'`);
    if (token === 'nil') return null;
    if (token === 'true') return true;
    if (token === 'false') return false;
    if (token.startsWith(':')) {
      if (token.length === 1) throw new HistoryParseError(this.line, 'a keyword name after ":"');
      return token;
    }
    if (/^[+-]?\d+N?$/.test(token)) return Number(token.replace(/N$/, ''));
    if (/^[+-]?\d+(\.\d+)?([eE][+-]?\d+)?M?$/.test(token)) return Number(token.replace(/M$/, ''));
    if (/^[+-]?\d/.test(token)) throw new HistoryParseError(this.line, 'a number', token);
    if (token.startsWith('\\'))
      throw new HistoryParseError(this.line, 'a value other than a character literal', token);
    return token; // a symbol, kept as its name
  }
}

/** Reads exactly one EDN value from `text` (a whole line, typically). */
export function readEdn(text: string, line = 1): EdnValue {
  const reader = new EdnReader(text, line);
  const value = reader.read();
  if (!reader.atEnd()) throw new HistoryParseError(reader.currentLine, 'end of the value', 'more input');
  return value;
}
