// Larger generated Person records, from a seed, for the size and speed table.
import { type Random, SeededRandom } from '@ddia/common';
import type { Person } from './book-record.js';

const WORDS = [
  'daydreaming',
  'hacking',
  'climbing',
  'distributed systems',
  'sourdough',
  'chess',
  'cycling',
  'databases',
  'jazz',
  'birdwatching',
  'origami',
  'compilers',
  'running',
  'photography',
  'gardening',
];
/** The largest favoriteNumber drawn: beyond 32 bits, so 64-bit integer encodings matter. */
const FAVORITE_NUMBER_MAX = 2 ** 40;
const INTERESTS_MAX = 12;
const NAME_CHARS_MAX = 24;

function name(random: Random): string {
  const length = random.int(3, NAME_CHARS_MAX);
  let out = '';
  for (let i = 0; i < length; i++) out += String.fromCharCode(random.int(97, 122));
  return out;
}

export function generatePeople(count: number, seed: number): Person[] {
  const random = new SeededRandom(seed);
  return Array.from({ length: count }, () => ({
    userName: name(random),
    favoriteNumber: random.chance(0.2) ? null : random.int(0, FAVORITE_NUMBER_MAX),
    interests: Array.from({ length: random.int(0, INTERESTS_MAX) }, () => random.pick(WORDS)),
  }));
}
