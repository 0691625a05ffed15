// FORMAT.md's X-Context examples are fixtures: the code must encode the documented vectors to
// exactly the documented header values and decode them back.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeContext, encodeContext } from '../src/http/context.js';

const doc = readFileSync(new URL('../FORMAT.md', import.meta.url), 'utf8');
const section = doc.split('## X-Context')[1] ?? '';

describe('FORMAT.md X-Context examples', () => {
  it.each([
    ['{"n1":1,"n2":1}', /`(\{"n1":1,"n2":1\})` is\s+`([A-Za-z0-9_-]+)`/],
    ['{"pos":1}', /`([A-Za-z0-9_-]+)` is `(\{"pos":1\})`/],
  ])('%s', (json, pattern) => {
    const m = section.match(pattern);
    expect(m, `FORMAT.md's X-Context section shows ${json}`).not.toBeNull();
    const header = m![1]!.startsWith('{') ? m![2]! : m![1]!;
    expect(encodeContext(JSON.parse(json))).toBe(header);
    expect(decodeContext(header)).toEqual(JSON.parse(json));
  });
});
