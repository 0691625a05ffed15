// Seeded inputs: text "books" with a few thousand lines each, words of mixed scripts and case.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SeededRandom } from '@ddia/common/core';

const SYLLABLES = ['ka', 'lo', 'mi', 'rü', 'sé', 'ta', 'ven', 'or', 'Ω', 'ñu', 'Bel', 'QU', 'x'];

export async function writeBooks(dir: string, books: number, lines: number, seed: number): Promise<void> {
  const random = new SeededRandom(seed);
  const vocabulary = Array.from({ length: 400 }, () =>
    Array.from({ length: random.int(1, 3) }, () => random.pick(SYLLABLES)).join(''),
  );
  await mkdir(dir, { recursive: true });
  for (let b = 0; b < books; b++) {
    const out: string[] = [];
    for (let l = 0; l < lines; l++) {
      const words = Array.from({ length: random.int(0, 12) }, () => {
        // Zipf-ish: small indexes far more often.
        const index = Math.floor(vocabulary.length * random.next() ** 3);
        return vocabulary[index]!;
      });
      out.push(`${words.join(random.pick([' ', ', ', ' -- ', '; ']))}${random.chance(0.1) ? ` ${l}.` : ''}`);
    }
    await writeFile(join(dir, `pg-${b}.txt`), `${out.join('\n')}\n`);
  }
}
