// A package's FORMAT.md shows its bytes by example, and its format test pins every example
// against the encoder and decoder, so code and document cannot drift apart. An example is a
// fenced `text` block right under an HTML comment that names it:
//
//   <!-- fixture: entry -->
//   ```text
//   0a 00 00 00   # length 10
//   ...
//   ```
//
// `#` starts a comment that runs to the end of the line. This module reads such blocks, and
// writes bytes the way the blocks spell them (`hex`), so that a test compares like with like.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface FormatFixtures {
  /** The block's words (comments dropped) joined by single spaces: `0a 00 00 00 …`. */
  fixture(name: string): string;
  /**
   * The block's lines, comments dropped, trimmed, white space inside a line folded to one
   * space, empty lines left out: for a block that lists one example a line.
   */
  fixtureLines(name: string): string[];
  /** The block read as hex: its bytes. A word that is not two hex digits throws. */
  fixtureBytes(name: string): Uint8Array;
}

/**
 * The fixtures of one FORMAT.md (read once, now), e.g.
 * `formatFixtures(new URL('../FORMAT.md', import.meta.url))` in a package's test/.
 */
export function formatFixtures(path: URL | string): FormatFixtures {
  const file = typeof path === 'string' ? path : fileURLToPath(path);
  const doc = readFileSync(file, 'utf8');
  const fixtureLines = (name: string): string[] => {
    const marker = `<!-- fixture: ${name} -->\n\`\`\`text\n`;
    const start = doc.indexOf(marker);
    const end = start < 0 ? -1 : doc.indexOf('```', start + marker.length);
    if (end < 0) throw new Error(`${basename(file)} has no fixture ${name}`);
    return doc
      .slice(start + marker.length, end)
      .split('\n')
      .map((line) => line.replace(/#.*$/, '').trim().replace(/\s+/g, ' '))
      .filter(Boolean);
  };
  const fixture = (name: string): string => fixtureLines(name).join(' ');
  const fixtureBytes = (name: string): Uint8Array => fromHex(fixture(name));
  return { fixture, fixtureLines, fixtureBytes };
}

/** Bytes as FORMAT.md spells them: lowercase hex, one space between bytes (`0a 1b ff`). */
export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes)
    .toString('hex')
    .replace(/(..)(?!$)/g, '$1 ');
}

/** The inverse of `hex`: `0a 1b ff` (any white space between bytes) to its bytes. */
export function fromHex(text: string): Uint8Array {
  const words = text.split(/\s+/).filter(Boolean);
  const bad = words.find((word) => !/^[0-9a-fA-F]{2}$/.test(word));
  if (bad !== undefined) throw new Error(`not a hex byte: ${JSON.stringify(bad)}`);
  return Uint8Array.from(words, (word) => Number.parseInt(word, 16));
}
