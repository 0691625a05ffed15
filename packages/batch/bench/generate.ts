// Seeded input for the benchmark: `text/` (lines of words drawn from a skewed vocabulary, some
// capitalised, with punctuation) for the word count, and `csv/` (id,key,amount with integer
// amounts and skewed keys) for the group-by. Files of at most FILE_BYTES each; a `_complete`
// marker makes a second run with the same size and seed reuse them.
import { existsSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SeededRandom } from '@ddia/common/core';

const FILE_BYTES = 64 * 2 ** 20;
const VOCABULARY = 30_000;
const KEYS = 10_000;
const CHUNK_BYTES = 4 * 2 ** 20;

export interface BenchData {
  textDir: string;
  csvDir: string;
  textBytes: number;
  csvBytes: number;
}

function vocabulary(random: SeededRandom): string[] {
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const words = new Set<string>();
  while (words.size < VOCABULARY) {
    let w = '';
    const length = random.int(2, 10);
    for (let i = 0; i < length; i++) w += letters[random.int(0, 25)];
    words.add(w);
  }
  return [...words];
}

/** A skewed pick (roughly Zipf-like): low indexes are much more frequent. */
function skewed(random: SeededRandom, n: number): number {
  const r = random.next();
  return Math.min(n - 1, Math.floor(n * r * r * r));
}

async function bytesUnder(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir)) total += (await stat(join(dir, name))).size;
  return total;
}

async function writeFiles(
  dir: string,
  totalBytes: number,
  header: string,
  line: () => string,
): Promise<number> {
  await mkdir(dir, { recursive: true });
  let written = 0;
  for (let file = 0; written < totalBytes; file++) {
    const handle = await open(join(dir, `part-${String(file).padStart(4, '0')}`), 'w');
    let fileBytes = 0;
    let chunk: string[] = header ? [header] : [];
    let chunkBytes = header.length;
    while (fileBytes + chunkBytes < FILE_BYTES && written + fileBytes + chunkBytes < totalBytes) {
      const l = line();
      chunk.push(l);
      chunkBytes += l.length + 1;
      if (chunkBytes >= CHUNK_BYTES) {
        await handle.write(`${chunk.join('\n')}\n`);
        fileBytes += chunkBytes;
        chunk = [];
        chunkBytes = 0;
      }
    }
    if (chunk.length > 0) await handle.write(`${chunk.join('\n')}\n`);
    fileBytes += chunkBytes;
    await handle.close();
    written += fileBytes;
  }
  return bytesUnder(dir);
}

export async function generateBenchData(root: string, mb: number, seed: number): Promise<BenchData> {
  const dir = join(root, `${mb}mb-seed${seed}`);
  const textDir = join(dir, 'text');
  const csvDir = join(dir, 'csv');
  const marker = join(dir, '_complete');
  if (existsSync(marker)) {
    const { textBytes, csvBytes } = JSON.parse(await readFile(marker, 'utf8'));
    return { textDir, csvDir, textBytes, csvBytes };
  }
  await rm(dir, { recursive: true, force: true });
  const random = new SeededRandom(seed);
  const words = vocabulary(random);
  const punctuation = ['', '', '', ',', '.', ';', '!', '?'];
  const textBytes = await writeFiles(textDir, mb * 2 ** 20, '', () => {
    const n = random.int(6, 16);
    const parts: string[] = [];
    for (let i = 0; i < n; i++) {
      let w = words[skewed(random, words.length)]!;
      if (i === 0) w = w[0]!.toUpperCase() + w.slice(1);
      parts.push(w + punctuation[random.int(0, punctuation.length - 1)]);
    }
    return parts.join(' ');
  });
  let id = 0;
  const csvBytes = await writeFiles(
    csvDir,
    mb * 2 ** 20,
    'id,key,amount',
    () => `${id++},k${skewed(random, KEYS)},${random.int(1, 100_000)}`,
  );
  await writeFile(marker, JSON.stringify({ textBytes, csvBytes }));
  return { textDir, csvDir, textBytes, csvBytes };
}
