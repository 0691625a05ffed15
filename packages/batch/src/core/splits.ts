// Input splits: the coordinator cuts each input file into byte ranges of about `splitBytes`
// (Hadoop's FileInputFormat). A split owns the records that *start* inside its range: a reader
// whose range does not start at 0 skips to the first line start after `start`, and reads on
// past `end` to finish the line that crosses it. Every line is read by exactly one split.

export const INPUT_FORMATS = ['text', 'csv', 'jsonl'] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

export interface InputFile {
  path: string;
  bytes: number;
  /** The name of the input it belongs to (a join has two: e.g. "events" and "users"). */
  input: string;
  format: InputFormat;
}

export interface Split {
  index: number;
  path: string;
  input: string;
  format: InputFormat;
  start: number;
  end: number;
}

export function planSplits(files: readonly InputFile[], splitBytes: number): Split[] {
  const splits: Split[] = [];
  for (const file of files) {
    if (file.bytes === 0) continue;
    for (let start = 0; start < file.bytes; start += splitBytes) {
      splits.push({
        index: splits.length,
        path: file.path,
        input: file.input,
        format: file.format,
        start,
        end: Math.min(file.bytes, start + splitBytes),
      });
    }
  }
  return splits;
}
