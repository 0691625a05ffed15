// An inverted index (6.5840 lab 1's indexer, DDIA ch. 10 "building search indexes"): for each
// word, the number of documents it occurs in and their names, sorted.
import { basename } from 'node:path';
import type { Emit, TaskContext } from '../job.js';

const WORD = /\p{L}+/gu;

export function map(line: string, emit: Emit, ctx: TaskContext): void {
  const document = basename(ctx.file);
  const seen = new Set<string>();
  for (const match of line.matchAll(WORD)) {
    const word = match[0].toLowerCase();
    if (seen.has(word)) continue;
    seen.add(word);
    emit(word, document);
  }
}

export function reduce(_key: string, values: string[]): string {
  const documents = [...new Set(values)].sort();
  return `${documents.length} ${documents.join(',')}`;
}
