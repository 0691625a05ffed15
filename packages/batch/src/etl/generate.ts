// A seeded generator of raw ETL input: a customers table and batches of order files, with the
// dirt real exports have: rows with missing or extra fields, duplicates, impossible dates,
// amounts that are not numbers, Latin-1 bytes in a UTF-8 file, customers nobody knows.
import { join } from 'node:path';
import { SeededRandom } from '@ddia/common/core';
import { ensureDir, writeBytes } from '../disk.js';

export const COUNTRIES = ['BR', 'DE', 'FR', 'IN', 'JP', 'US'] as const;
const CUSTOMERS = 80;
const DIRT_RATE = 0.03;

export function customersCsv(seed: number): string {
  const random = new SeededRandom(seed);
  const rows = ['customer_id,name,country'];
  for (let i = 1; i <= CUSTOMERS; i++) rows.push(`c${i},"Customer ${i}, Ltd",${random.pick(COUNTRIES)}`);
  return `${rows.join('\n')}\n`;
}

/**
 * One batch of orders: `rows` rows over the given dates. Order ids start at `firstOrderId`.
 * Returns the file's bytes (not all of it is UTF-8, on purpose).
 */
export function ordersBatch(seed: number, firstOrderId: number, rows: number, dates: string[]): Buffer {
  const random = new SeededRandom(seed);
  const lines: Buffer[] = [Buffer.from('order_id,customer_id,amount,quantity,order_date,note\n')];
  const written: string[] = [];
  for (let i = 0; i < rows; i++) {
    const id = `o${firstOrderId + i}`;
    const customer = `c${random.int(1, CUSTOMERS)}`;
    const amount = (random.int(100, 50_000) / 100).toFixed(2);
    const quantity = random.int(1, 5);
    const date = random.pick(dates);
    let line = `${id},${customer},${amount},${quantity},${date},${random.pick(['', 'gift', 'express', '"rush, please"'])}`;
    const roll = random.next();
    if (roll < DIRT_RATE)
      line = `${id},${customer},${amount}`; // fields missing
    else if (roll < 2 * DIRT_RATE) line = `${id},${customer},${amount},${quantity},${date.slice(0, 5)}13-45,`;
    else if (roll < 3 * DIRT_RATE) line = `${id},${customer},twelve,${quantity},${date},`;
    else if (roll < 4 * DIRT_RATE)
      line = `${id},c999,${amount},${quantity},${date},`; // unknown customer
    else if (roll < 5 * DIRT_RATE && written.length > 0) line = random.pick(written); // a duplicate
    if (roll >= 5 * DIRT_RATE && roll < 6 * DIRT_RATE) {
      // "café" in Latin-1: the byte 0xE9 alone is not UTF-8.
      lines.push(
        Buffer.concat([
          Buffer.from(`${id},${customer},${amount},${quantity},${date},caf`),
          Buffer.from([0xe9, 0x0a]),
        ]),
      );
      continue;
    }
    written.push(line);
    lines.push(Buffer.from(`${line}\n`));
  }
  return Buffer.concat(lines);
}

/**
 * One batch of the clickstream as JSON lines over the given dates: users browse in bursts
 * (sessions), with the dirt of real logs: lines that are not JSON, clicks without a user,
 * timestamps that are not numbers, and lines sent twice.
 */
export function clicksBatch(seed: number, rows: number, dates: string[]): string {
  const random = new SeededRandom(seed);
  const lines: string[] = [];
  const pages = ['/', '/search', '/item', '/cart', '/pay'];
  const dayStart = (date: string) =>
    Date.UTC(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10))) / 1000;
  while (lines.length < rows) {
    const user = `c${random.int(1, CUSTOMERS)}`;
    let ts = dayStart(random.pick(dates)) + random.int(0, 86_399 - 25_000);
    for (let n = random.int(1, 8); n > 0 && lines.length < rows; n--) {
      const roll = random.next();
      let line = JSON.stringify({ user_id: user, ts, url: random.pick(pages) });
      if (roll < DIRT_RATE) line = line.slice(0, -3);
      else if (roll < 2 * DIRT_RATE) line = JSON.stringify({ ts, url: '/' });
      else if (roll < 3 * DIRT_RATE) line = JSON.stringify({ user_id: user, ts: 'yesterday', url: '/' });
      else if (roll < 4 * DIRT_RATE && lines.length > 0) line = random.pick(lines);
      lines.push(line);
      ts += random.chance(0.1) ? random.int(1_900, 3_000) : random.int(1, 300);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Writes customers.csv and `batches` order files (orders-0001.csv, ...) under `rawDir`. */
export async function generateRaw(
  rawDir: string,
  seed: number,
  batches: number,
  firstBatch = 1,
): Promise<string[]> {
  await ensureDir(rawDir);
  await writeBytes(join(rawDir, 'customers.csv'), customersCsv(seed));
  const files: string[] = [];
  for (let b = firstBatch; b < firstBatch + batches; b++) {
    // Each batch covers its own day and the day before (late data touches an old partition).
    const day = (n: number) => `2026-03-${String(n).padStart(2, '0')}`;
    const dates = b === 1 ? [day(1)] : [day(b - 1), day(b)];
    const name = `orders-${String(b).padStart(4, '0')}.csv`;
    await writeBytes(join(rawDir, name), ordersBatch(seed * 1_000 + b, b * 100_000, 400, dates));
    files.push(name);
    const clicks = `clicks-${String(b).padStart(4, '0')}.jsonl`;
    await writeBytes(join(rawDir, clicks), clicksBatch(seed * 1_000 + b, 600, dates));
    files.push(clicks);
  }
  return files;
}
