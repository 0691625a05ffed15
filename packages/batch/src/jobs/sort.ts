// Total-order sort (TeraSort): each line is a record, its key the text before the first tab.
// The range partitioner's boundaries come from a sample of the keys, so part-00000 holds the
// smallest keys and each later part the next range: the concatenated parts are sorted.
import type { Emit } from '../job.js';

export const partition = 'range';

export function map(line: string, emit: Emit): void {
  const tab = line.indexOf('\t');
  if (tab < 0) emit(line, '');
  else emit(line.slice(0, tab), line.slice(tab + 1));
}

export function reduce(key: string, values: string[], emit: Emit): void {
  // Duplicates stay: a sort keeps every record.
  for (const value of values) emit(key, value);
}
