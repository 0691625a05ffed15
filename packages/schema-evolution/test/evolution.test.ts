// The evolution matrix: each cell is a real round trip; these are the rules of DDIA ch. 4.
import { describe, expect, it } from 'vitest';
import {
  type Direction,
  type EvolutionFormat,
  evolutionMatrix,
  type Outcome,
} from '../src/evolution/matrix.js';

const rows = evolutionMatrix();
const cell = (change: string, format: EvolutionFormat, direction: Direction) => {
  const row = rows.find((r) => r.change === change);
  if (!row) throw new Error(`no row ${change}`);
  return row.cells[format][direction];
};

// [change, avro bw, avro fw, protobuf bw, protobuf fw, json bw, json fw]
const EXPECTED: [string, ...Outcome[]][] = [
  ['add field with default', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok'],
  ['add field without default', 'fail', 'ok', 'fail', 'ok', 'fail', 'ok'],
  ['remove field (it had a default)', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok'],
  ['remove required field (no default)', 'ok', 'fail', 'ok', 'fail', 'ok', 'fail'],
  ['rename field (Avro: reader alias)', 'ok', 'fail', 'ok', 'ok', 'fail', 'fail'],
  ['widen int to long', 'ok', 'fail', 'ok', 'lossy', 'ok', 'ok'],
  ['add union branch', 'ok', 'fail', 'ok', 'lossy', 'ok', 'fail'],
  ['add enum symbol', 'ok', 'fail', 'ok', 'lossy', 'ok', 'fail'],
  ['remove enum symbol', 'fail', 'ok', 'lossy', 'ok', 'fail', 'ok'],
];

describe('evolution matrix', () => {
  it('has every change the chapter discusses', () => {
    expect(rows.map((r) => r.change)).toEqual(EXPECTED.map((e) => e[0]));
  });
  it.each(EXPECTED)('%s', (change, ...outcomes) => {
    const got = (['avro', 'protobuf', 'json'] as const).flatMap((f) =>
      (['backward', 'forward'] as const).map((d) => cell(change, f, d).outcome),
    );
    expect(got).toEqual(outcomes);
  });
  it('fills defaults for fields the writer did not know (Avro backward)', () => {
    expect(JSON.parse(cell('add field with default', 'avro', 'backward').detail)).toEqual({ a: 'x', b: 0 });
  });
  it('shows what silent loss looks like in protobuf', () => {
    expect(JSON.parse(cell('widen int to long', 'protobuf', 'forward').detail)).toEqual({ n: 5 }); // 2^33+5 truncated
    expect(JSON.parse(cell('add enum symbol', 'protobuf', 'forward').detail)).toEqual({ e: 2 });
  });
});
