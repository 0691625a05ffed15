import { describe, expect, it } from 'vitest';
import { forwardedParts } from '../src/index.js';

describe('forwardedParts', () => {
  it('passes on the named single-valued headers and the raw body, nothing else', () => {
    const raw = Buffer.from('v1');
    const parts = forwardedParts(
      {
        headers: { 'content-type': 'text/plain', 'if-match': '"3"', cookie: 'secret', 'x-seq': ['1', '2'] },
        body: raw,
      },
      ['content-type', 'if-match', 'x-seq', 'if-none-match'],
    );
    expect(parts).toEqual({ headers: { 'content-type': 'text/plain', 'if-match': '"3"' }, body: raw });
  });

  it('passes a parsed JSON body on as an object, and no body when there is none', () => {
    expect(forwardedParts({ headers: {}, body: { a: 1 } }, []).body).toEqual({ a: 1 });
    expect(forwardedParts({ headers: {}, body: undefined }, [])).toEqual({ headers: {} });
    expect('body' in forwardedParts({ headers: {}, body: null }, [])).toBe(false);
  });
});
