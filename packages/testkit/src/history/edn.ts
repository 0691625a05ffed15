// A reader for EDN (https://github.com/edn-format/edn) as Jepsen and Elle write histories:
// nil, booleans, integers (with N), floats (with M), ratios, ##Inf/##-Inf/##NaN, strings,
// characters, keywords, symbols, vectors, lists, sets, maps, tagged values (#inst, #uuid,
// records such as #jepsen.history.Op{...}), #_ discards and ; comments. Keywords become the
// string ":name" so that values stay JSON-friendly; maps become plain objects keyed by the
// keyword's or string's name (a number key by its decimal text). Every error names the line
// and the column (1-based) where reading stopped.

import { HistoryParseError } from './errors.js';

export type EdnValue = null | boolean | number | string | EdnValue[] | { [key: string]: EdnValue };

/** Deeper nesting than this is refused (no history needs it; it would overflow the stack). */
export const EDN_DEPTH_MAX = 500;

const CH_NEWLINE = 10;

function isWhitespaceCode(c: number): boolean {
  // space, tab, newline, carriage return, comma (EDN's whitespace), form feed
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 44 || c === 12;
}

function isDelimiterCode(c: number): boolean {
  // ( ) [ ] { } " ;
  return c === 40 || c === 41 || c === 91 || c === 93 || c === 123 || c === 125 || c === 34 || c === 59;
}

const NAMED_CHARACTERS: Record<string, string> = {
  newline: '\n',
  space: ' ',
  tab: '\t',
  return: '\r',
  formfeed: '\f',
  backspace: '\b',
};

const INTEGER = /^[+-]?\d+N?$/;
const FLOAT = /^[+-]?\d+(\.\d*)?([eE][+-]?\d+)?M?$/;
const RATIO = /^([+-]?\d+)\/(\d+)$/;

/**
 * Reads EDN forms from `text`; `firstLine` and `firstColumn` place the text's first character in
 * the file, for error messages (a value cut out of a log line keeps its column).
 */
export class EdnReader {
  private pos = 0;
  private line: number;
  /** Position of the first character of the current line (for columns). */
  private lineStart: number;
  private depth = 0;

  constructor(
    private readonly text: string,
    firstLine = 1,
    firstColumn = 1,
  ) {
    this.line = firstLine;
    this.lineStart = 1 - firstColumn;
  }

  get currentLine(): number {
    return this.line;
  }

  /** 1-based column of the next character to read. */
  get currentColumn(): number {
    return this.pos - this.lineStart + 1;
  }

  /** True when only whitespace and comments remain. */
  atEnd(): boolean {
    this.skipSpace();
    return this.pos >= this.text.length;
  }

  read(): EdnValue {
    this.skipSpace();
    if (this.pos >= this.text.length) throw this.error('an EDN value', 'end of input');
    const ch = this.text[this.pos];
    switch (ch) {
      case '[':
      case '(':
        this.pos++;
        return this.nested(() => this.readSeq(ch === '[' ? ']' : ')'));
      case '{':
        this.pos++;
        return this.nested(() => this.readMap());
      case '"':
        return this.readString();
      case '#':
        return this.readDispatch();
      case '\\':
        return this.readCharacter();
      case ']':
      case ')':
      case '}':
        throw this.error('an EDN value', `'${ch}'`);
      default:
        return this.readAtom();
    }
  }

  /**
   * When the next form is a vector, reads its elements one by one, calling `visit` with the line
   * and column where each begins (so a history written as one vector still reports per-element
   * positions), and returns true; otherwise reads nothing and returns false.
   */
  readVectorElements(visit: (value: EdnValue, line: number, column: number) => void): boolean {
    this.skipSpace();
    if (this.text[this.pos] !== '[') return false;
    const line = this.line;
    const column = this.currentColumn;
    this.pos++;
    for (;;) {
      this.skipSpace();
      if (this.pos >= this.text.length) {
        throw this.error(`']' to close the vector opened at line ${line}, column ${column}`, 'end of input');
      }
      if (this.text[this.pos] === ']') {
        this.pos++;
        return true;
      }
      const elementLine = this.line;
      const elementColumn = this.currentColumn;
      visit(this.read(), elementLine, elementColumn);
    }
  }

  private error(
    expected: string,
    found?: string,
    line = this.line,
    column = this.currentColumn,
  ): HistoryParseError {
    return new HistoryParseError(line, expected, found, column);
  }

  private nested<T>(read: () => T): T {
    if (++this.depth > EDN_DEPTH_MAX) throw this.error(`at most ${EDN_DEPTH_MAX} nested collections`);
    try {
      return read();
    } finally {
      this.depth--;
    }
  }

  private skipSpace(): void {
    const text = this.text;
    while (this.pos < text.length) {
      const c = text.charCodeAt(this.pos);
      if (c === CH_NEWLINE) {
        this.line++;
        this.pos++;
        this.lineStart = this.pos;
      } else if (isWhitespaceCode(c)) {
        this.pos++;
      } else if (c === 59 /* ; */) {
        while (this.pos < text.length && text.charCodeAt(this.pos) !== CH_NEWLINE) this.pos++;
      } else {
        return;
      }
    }
  }

  private readSeq(close: string): EdnValue[] {
    const items: EdnValue[] = [];
    const line = this.line;
    const column = this.currentColumn - 1;
    for (;;) {
      this.skipSpace();
      if (this.pos >= this.text.length) {
        throw this.error(
          `'${close}' to close the collection opened at line ${line}, column ${column}`,
          'end of input',
        );
      }
      const ch = this.text[this.pos];
      if (ch === close) {
        this.pos++;
        return items;
      }
      if (ch === ']' || ch === ')' || ch === '}') {
        throw this.error(
          `'${close}' to close the collection opened at line ${line}, column ${column}`,
          `'${ch}'`,
        );
      }
      if (this.text[this.pos] === '#' && this.text[this.pos + 1] === '_') {
        this.pos += 2;
        this.read(); // #_ discards the next form, even the last one in a collection
        continue;
      }
      items.push(this.read());
    }
  }

  private readMap(): { [key: string]: EdnValue } {
    const map: { [key: string]: EdnValue } = {};
    const line = this.line;
    const column = this.currentColumn - 1;
    for (;;) {
      this.skipSpace();
      if (this.pos >= this.text.length) {
        throw this.error(`'}' to close the map opened at line ${line}, column ${column}`, 'end of input');
      }
      const ch = this.text[this.pos];
      if (ch === '}') {
        this.pos++;
        return map;
      }
      if (ch === ']' || ch === ')') {
        throw this.error(`'}' to close the map opened at line ${line}, column ${column}`, `'${ch}'`);
      }
      if (this.text[this.pos] === '#' && this.text[this.pos + 1] === '_') {
        this.pos += 2;
        this.read();
        continue;
      }
      const keyLine = this.line;
      const keyColumn = this.currentColumn;
      const key = this.read();
      this.skipSpace();
      if (this.pos >= this.text.length || this.text[this.pos] === '}') {
        throw this.error(`a value for map key ${JSON.stringify(key)}`);
      }
      const value = this.read();
      const name = mapKeyName(key);
      if (Object.hasOwn(map, name)) {
        throw this.error(`distinct map keys, ${name} repeats`, undefined, keyLine, keyColumn);
      }
      map[name] = value;
    }
  }

  private readString(): string {
    const line = this.line;
    const column = this.currentColumn;
    this.pos++; // opening quote
    const text = this.text;
    // Fast path: no escapes and no newlines.
    const close = text.indexOf('"', this.pos);
    if (close >= 0) {
      const slice = text.slice(this.pos, close);
      if (!slice.includes('\\') && !slice.includes('\n')) {
        this.pos = close + 1;
        return slice;
      }
    }
    let out = '';
    while (this.pos < text.length) {
      const ch = text[this.pos++];
      if (ch === '"') return out;
      if (ch === '\n') {
        this.line++;
        this.lineStart = this.pos;
      }
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
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case '"':
        case '\\':
          out += esc;
          break;
        case 'u': {
          const hex = text.slice(this.pos, this.pos + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw this.error('four hex digits after \\u', hex);
          out += String.fromCharCode(Number.parseInt(hex, 16));
          this.pos += 4;
          break;
        }
        default:
          this.pos -= 2; // point at the backslash
          throw this.error('a string escape (\\n \\t \\r \\b \\f \\" \\\\ \\u)', `\\${esc ?? ''}`);
      }
    }
    throw this.error(`a closing '"' for the string opened at line ${line}, column ${column}`, 'end of input');
  }

  /** \a, \newline, \space, \tab, \return, \formfeed, \backspace, \uXXXX: read as a string. */
  private readCharacter(): string {
    const column = this.currentColumn;
    this.pos++; // backslash
    // The first character is taken even if it is a delimiter (\( is the character '(').
    const first = this.text[this.pos];
    if (first === undefined || isWhitespaceCode(first.charCodeAt(0))) {
      throw this.error('a character after \\', first === undefined ? 'end of input' : 'whitespace');
    }
    this.pos++;
    const rest = this.readToken();
    const token = first + rest;
    if (token.length === 1) return token;
    const named = NAMED_CHARACTERS[token];
    if (named !== undefined) return named;
    if (/^u[0-9a-fA-F]{4}$/.test(token)) return String.fromCharCode(Number.parseInt(token.slice(1), 16));
    throw this.error(
      'a character literal (\\c, \\newline, \\space, \\tab, \\uXXXX)',
      `\\${token}`,
      this.line,
      column,
    );
  }

  private readDispatch(): EdnValue {
    const next = this.text[this.pos + 1];
    if (next === '{') {
      this.pos += 2;
      return this.nested(() => this.readSeq('}')); // a set, read as an array
    }
    if (next === '_') {
      this.pos += 2;
      this.read(); // discard the next form
      return this.read();
    }
    if (next === '#') {
      const column = this.currentColumn;
      this.pos += 2;
      const token = this.readToken();
      if (token === 'Inf') return Number.POSITIVE_INFINITY;
      if (token === '-Inf') return Number.NEGATIVE_INFINITY;
      if (token === 'NaN') return Number.NaN;
      throw this.error('##Inf, ##-Inf or ##NaN', `##${token}`, this.line, column);
    }
    // A tagged value (#inst "...", #uuid "...", #jepsen.history.Op{...}): keep the tagged form's value.
    this.pos++;
    const column = this.currentColumn;
    const tag = this.readToken();
    if (tag.length === 0 || !/^[A-Za-z]/.test(tag)) {
      throw this.error(
        'a tag after # (such as #inst)',
        tag.length === 0 ? undefined : tag,
        this.line,
        column,
      );
    }
    return this.read();
  }

  private readToken(): string {
    const start = this.pos;
    const text = this.text;
    while (this.pos < text.length) {
      const c = text.charCodeAt(this.pos);
      if (isWhitespaceCode(c) || isDelimiterCode(c)) break;
      this.pos++;
    }
    return text.slice(start, this.pos);
  }

  private readAtom(): EdnValue {
    const column = this.currentColumn;
    const token = this.readToken();
    if (token.length === 0) throw this.error('an EDN value', `'${this.text[this.pos]}'`);
    if (token === 'nil') return null;
    if (token === 'true') return true;
    if (token === 'false') return false;
    const c = token.charCodeAt(0);
    if (c === 58 /* : */) {
      if (token.length === 1 || token === '::')
        throw this.error('a keyword name after ":"', token, this.line, column);
      return token;
    }
    const digitFirst = (c >= 48 && c <= 57) || ((c === 43 || c === 45) && /^[+-]\d/.test(token));
    if (!digitFirst) return token; // a symbol, kept as its name
    if (INTEGER.test(token)) return Number(token.endsWith('N') ? token.slice(0, -1) : token);
    if (FLOAT.test(token)) return Number(token.endsWith('M') ? token.slice(0, -1) : token);
    const ratio = RATIO.exec(token);
    if (ratio !== null && Number(ratio[2]) !== 0) return Number(ratio[1]) / Number(ratio[2]);
    throw this.error('a number', token, this.line, column);
  }
}

function mapKeyName(key: EdnValue): string {
  if (typeof key === 'string') return key.startsWith(':') ? key.slice(1) : key;
  if (typeof key === 'number') return String(key);
  return JSON.stringify(key);
}

/** Reads exactly one EDN value from `text` (a whole line, or a field of one at `column`). */
export function readEdn(text: string, line = 1, column = 1): EdnValue {
  const reader = new EdnReader(text, line, column);
  const value = reader.read();
  if (!reader.atEnd())
    throw new HistoryParseError(reader.currentLine, 'end of the value', 'more input', reader.currentColumn);
  return value;
}
