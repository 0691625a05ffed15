// The chapter's encoding comparison as text: the book record per format beside the book's
// figures, annotated hex dumps, and the larger generated-records table.
import { annotate, bytesByKind, hexDump } from './annotate.js';
import { BOOK_BYTES, BOOK_RECORD } from './book-record.js';
import { CODECS } from './codecs.js';
import { generatePeople } from './generate.js';
import { type CodecMeasurement, measureCodec } from './throughput.js';

export interface BookRow {
  format: string;
  library: string;
  bytes: number;
  bookBytes: number;
  /** Bytes spent on field names or tags, lengths/counts/types, and values. */
  overheadBytes: number;
  valueBytes: number;
}

export function bookTable(): BookRow[] {
  return CODECS.map((c) => {
    const bytes = c.encode(BOOK_RECORD);
    const kinds = bytesByKind(annotate(c.name, bytes));
    return {
      format: c.name,
      library: c.library,
      bytes: bytes.length,
      bookBytes: BOOK_BYTES[c.name],
      valueBytes: kinds.value ?? 0,
      overheadBytes: bytes.length - (kinds.value ?? 0),
    };
  });
}

export function formatBookTable(rows: readonly BookRow[]): string {
  const lines = [
    '| format | library | our bytes | book | value bytes | names/tags/lengths/types |',
    '|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.format} | ${r.library} | ${r.bytes} | ${r.bookBytes}${r.bytes === r.bookBytes ? '' : ' (differs)'} | ${r.valueBytes} | ${r.overheadBytes} |`,
    ),
  ];
  return lines.join('\n');
}

export function hexDumps(): string {
  return CODECS.map((c) => {
    const bytes = c.encode(BOOK_RECORD);
    return `### ${c.name} (${bytes.length} bytes)\n\n\`\`\`\n${hexDump(bytes, annotate(c.name, bytes))}\n\`\`\``;
  }).join('\n\n');
}

/** The generated-records table: same schema, larger and varied records. */
export function measureGenerated(count: number, seed: number, budgetMs: number): CodecMeasurement[] {
  const people = generatePeople(count, seed);
  return CODECS.map((c) => measureCodec(c, people, budgetMs));
}

export function formatGeneratedTable(rows: readonly CodecMeasurement[]): string {
  const json = rows.find((r) => r.format === 'json');
  return [
    '| format | bytes/record | vs JSON | encode ops/s | decode ops/s |',
    '|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.format} | ${r.bytesPerRecordMean.toFixed(1)} | ${json ? `${((100 * r.bytesPerRecordMean) / json.bytesPerRecordMean).toFixed(0)}%` : ''} | ${Math.round(r.encodeOpsPerSec).toLocaleString('en-US')} | ${Math.round(r.decodeOpsPerSec).toLocaleString('en-US')} |`,
    ),
  ].join('\n');
}
