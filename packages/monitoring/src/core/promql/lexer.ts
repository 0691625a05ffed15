// The PromQL lexer: identifiers, keywords, numbers, durations, strings and operators, each
// with the offset it starts at so that the parser can point at the bad character.
import { PromqlParseError } from '../errors.js';

export type TokenKind = 'ident' | 'number' | 'duration' | 'string' | 'op' | 'eof';

export interface Token {
  kind: TokenKind;
  text: string;
  /** Numbers and durations (in milliseconds). */
  value?: number;
  pos: number;
}

const OPERATORS = [
  '=~',
  '!~',
  '!=',
  '==',
  '>=',
  '<=',
  '(',
  ')',
  '{',
  '}',
  '[',
  ']',
  ',',
  '=',
  '+',
  '-',
  '*',
  '/',
  '%',
  '^',
  '>',
  '<',
  ':',
  '@',
];

const DURATION_UNITS_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
};

/** Parses "1h30m", "5m", "250ms"; null when `text` is not a duration. */
export function parseDurationMs(text: string): number | null {
  const re = /(\d+)(ms|s|m|h|d|w|y)/gy;
  let total = 0;
  let at = 0;
  let m: RegExpExecArray | null;
  re.lastIndex = 0;
  while ((m = re.exec(text)) !== null) {
    total += Number(m[1]) * DURATION_UNITS_MS[m[2]!]!;
    at = re.lastIndex;
  }
  return at === text.length && at > 0 ? total : null;
}

export function lex(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < input.length && input[i] !== '\n') i++;
      continue;
    }
    const start = i;
    if (/[a-zA-Z_]/.test(c)) {
      while (i < input.length && /[a-zA-Z0-9_:]/.test(input[i]!)) i++;
      const text = input.slice(start, i);
      const lower = text.toLowerCase();
      if (lower === 'inf' || lower === 'nan') {
        tokens.push({
          kind: 'number',
          text,
          value: lower === 'inf' ? Number.POSITIVE_INFINITY : Number.NaN,
          pos: start,
        });
      } else tokens.push({ kind: 'ident', text, pos: start });
      continue;
    }
    if (/[0-9.]/.test(c) && (c !== '.' || /[0-9]/.test(input[i + 1] ?? ''))) {
      // A duration is digits followed by units; anything else numeric is a float.
      const duration = /^(\d+(ms|s|m|h|d|w|y))+/.exec(input.slice(i));
      if (duration && !/[a-zA-Z0-9_.]/.test(input[i + duration[0].length] ?? '')) {
        i += duration[0].length;
        tokens.push({
          kind: 'duration',
          text: duration[0],
          value: parseDurationMs(duration[0])!,
          pos: start,
        });
        continue;
      }
      const num = /^(0[xX][0-9a-fA-F]+|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)/.exec(input.slice(i));
      if (!num) throw new PromqlParseError(start, `bad number or duration syntax`);
      i += num[0].length;
      if (/[a-zA-Z_]/.test(input[i] ?? ''))
        throw new PromqlParseError(start, `bad number or duration syntax: "${input.slice(start, i + 1)}"`);
      tokens.push({ kind: 'number', text: num[0], value: Number(num[0]), pos: start });
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      i++;
      let value = '';
      for (;;) {
        if (i >= input.length) throw new PromqlParseError(start, 'unterminated quoted string');
        const d = input[i]!;
        if (d === c) {
          i++;
          break;
        }
        if (d === '\\' && c !== '`') {
          const e = input[i + 1];
          const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'" };
          if (e === undefined || map[e] === undefined)
            throw new PromqlParseError(i, `unknown escape sequence \\${e ?? ''}`);
          value += map[e];
          i += 2;
          continue;
        }
        value += d;
        i++;
      }
      tokens.push({ kind: 'string', text: value, pos: start });
      continue;
    }
    const op = OPERATORS.find((o) => input.startsWith(o, i));
    if (!op) throw new PromqlParseError(start, `unexpected character: '${c}'`);
    i += op.length;
    tokens.push({ kind: 'op', text: op, pos: start });
  }
  tokens.push({ kind: 'eof', text: '', pos: input.length });
  return tokens;
}
