// Label matchers as PromQL writes them: {job="api", path!="/health", code=~"5..", node!~"n[12]"}.
// Regular expressions are anchored at both ends, as in Prometheus.
import { PromqlParseError } from './errors.js';

export type MatchType = '=' | '!=' | '=~' | '!~';

export interface Matcher {
  name: string;
  type: MatchType;
  value: string;
  matches(value: string): boolean;
}

export function newMatcher(name: string, type: MatchType, value: string, position = 0): Matcher {
  if (type === '=' || type === '!=') {
    const equal = type === '=';
    return { name, type, value, matches: (v) => (v === value) === equal };
  }
  let re: RegExp;
  try {
    re = new RegExp(`^(?:${value})$`, 's');
  } catch (e) {
    throw new PromqlParseError(
      position,
      `invalid regular expression ${JSON.stringify(value)}: ${(e as Error).message}`,
    );
  }
  const positive = type === '=~';
  return { name, type, value, matches: (v) => re.test(v) === positive };
}

export function formatMatcher(m: Matcher): string {
  return `${m.name}${m.type}${JSON.stringify(m.value)}`;
}
