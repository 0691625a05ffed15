// Avro schema resolution as compatibility rules, and the seven compatibility levels.
import { describe, expect, it } from 'vitest';
import { readerWriterIncompatibilities } from '../src/registry/avro-compatibility.js';
import { parseAvro } from '../src/registry/avro-schema.js';
import { type CompatibilityLevel, checkCompatibility } from '../src/registry/compatibility.js';

const t = (schema: unknown) => parseAvro(JSON.stringify(schema)).type;
const rec = (fields: unknown[], extra: Record<string, unknown> = {}) => ({
  type: 'record',
  name: 'R',
  ...extra,
  fields,
});

/** Kinds of problem found when `reader` reads data written with `writer`. */
const kinds = (reader: unknown, writer: unknown) =>
  readerWriterIncompatibilities(t(reader), t(writer)).map((p) => p.kind);

describe('reader/writer rules (Avro schema resolution)', () => {
  const base = rec([{ name: 'a', type: 'int' }]);
  it('a reader field missing in the writer needs a default', () => {
    expect(
      kinds(
        rec([
          { name: 'a', type: 'int' },
          { name: 'b', type: 'string' },
        ]),
        base,
      ),
    ).toEqual(['READER_FIELD_MISSING_DEFAULT_VALUE']);
    expect(
      kinds(
        rec([
          { name: 'a', type: 'int' },
          { name: 'b', type: 'string', default: '' },
        ]),
        base,
      ),
    ).toEqual([]);
  });
  it('a writer field the reader lacks is skipped', () => {
    expect(kinds(rec([]), base)).toEqual([]);
  });
  it('promotes int to long, float, double; long to float, double; float to double; string <-> bytes', () => {
    for (const [w, r] of [
      ['int', 'long'],
      ['int', 'float'],
      ['int', 'double'],
      ['long', 'float'],
      ['long', 'double'],
      ['float', 'double'],
      ['string', 'bytes'],
      ['bytes', 'string'],
    ]) {
      expect(kinds(r, w), `${w} -> ${r}`).toEqual([]);
    }
    for (const [w, r] of [
      ['long', 'int'],
      ['double', 'float'],
      ['string', 'int'],
      ['boolean', 'int'],
    ]) {
      expect(kinds(r, w), `${w} -> ${r}`).toEqual(['TYPE_MISMATCH']);
    }
  });
  it('enum: removing a symbol breaks readers unless the reader has a default', () => {
    const abc = { type: 'enum', name: 'E', symbols: ['A', 'B', 'C'] };
    const ab = { type: 'enum', name: 'E', symbols: ['A', 'B'] };
    expect(kinds(ab, abc)).toEqual(['MISSING_ENUM_SYMBOLS']);
    expect(kinds(abc, ab)).toEqual([]);
    expect(kinds({ ...ab, default: 'A' }, abc)).toEqual([]);
  });
  it('unions: every writer branch must be readable; a reader union must hold the writer type', () => {
    expect(kinds(['null', 'string'], 'string')).toEqual([]);
    expect(kinds(['null', 'long'], 'int')).toEqual([]);
    expect(kinds('string', ['null', 'string'])).toContain('MISSING_UNION_BRANCH');
    expect(kinds(['null', 'string'], ['null', 'string', 'int'])).toContain('MISSING_UNION_BRANCH');
    expect(kinds(['null', 'string', 'int'], ['null', 'string'])).toEqual([]);
  });
  it('named types match by name or by a reader alias; fixed sizes must agree', () => {
    expect(kinds(rec([{ name: 'a', type: 'int' }], { name: 'Q' }), base)).toEqual(['NAME_MISMATCH']);
    expect(kinds(rec([{ name: 'a', type: 'int' }], { name: 'Q', aliases: ['R'] }), base)).toEqual([]);
    expect(kinds({ type: 'fixed', name: 'F', size: 4 }, { type: 'fixed', name: 'F', size: 8 })).toEqual([
      'FIXED_SIZE_MISMATCH',
    ]);
  });
  it('a field renamed with an alias still reads the old name', () => {
    expect(kinds(rec([{ name: 'b', type: 'int', aliases: ['a'] }]), base)).toEqual([]);
    expect(kinds(rec([{ name: 'b', type: 'int' }]), base)).toEqual(['READER_FIELD_MISSING_DEFAULT_VALUE']);
  });
  it('checks nested arrays, maps and records, naming the location', () => {
    const nested = (item: string) =>
      rec([{ name: 'xs', type: { type: 'array', items: { type: 'map', values: item } } }]);
    expect(kinds(nested('long'), nested('int'))).toEqual([]);
    const problems = readerWriterIncompatibilities(t(nested('int')), t(nested('long')));
    expect(problems.map((p) => p.location)).toEqual(['/fields/0/type/items/values']);
  });
  it('terminates on recursive schemas', () => {
    const list = (valueType: string) => ({
      type: 'record',
      name: 'Node',
      fields: [
        { name: 'value', type: valueType },
        { name: 'next', type: ['null', 'Node'], default: null },
      ],
    });
    expect(kinds(list('long'), list('int'))).toEqual([]);
    expect(kinds(list('int'), list('long'))).not.toEqual([]);
  });

  // The rules must agree with what avsc can actually decode: for every pair we call compatible,
  // random values written with the writer's schema decode with the reader's schema.
  it('agrees with real decoding on random data', () => {
    const schemas: unknown[] = [
      base,
      rec([{ name: 'a', type: 'long' }]),
      rec([
        { name: 'a', type: 'int' },
        { name: 'b', type: ['null', 'string'], default: null },
      ]),
      rec([{ name: 'a', type: ['int', 'string'] }]),
      rec([
        { name: 'a', type: 'double' },
        { name: 'c', type: { type: 'enum', name: 'E', symbols: ['X', 'Y'] }, default: 'X' },
      ]),
      rec([{ name: 'c', type: { type: 'enum', name: 'E', symbols: ['X'] }, default: 'X' }]),
      rec([{ name: 'c', type: { type: 'enum', name: 'E', symbols: ['X'], default: 'X' }, default: 'X' }]),
      rec([{ name: 'b', type: ['null', 'string'], default: null }]),
    ];
    let compatiblePairs = 0;
    for (const r of schemas) {
      for (const w of schemas) {
        const reader = t(r);
        const writer = t(w);
        if (readerWriterIncompatibilities(reader, writer).length > 0) continue;
        compatiblePairs++;
        const resolver = reader.createResolver(writer);
        for (let i = 0; i < 20; i++) {
          const value = writer.random();
          const decoded = reader.fromBuffer(writer.toBuffer(value), resolver);
          expect(reader.isValid(decoded)).toBe(true);
        }
      }
    }
    expect(compatiblePairs).toBeGreaterThan(schemas.length); // more than the diagonal
  });
});

describe('compatibility levels', () => {
  const v1 = t(rec([{ name: 'a', type: 'int' }]));
  const v2 = t(
    rec([
      { name: 'a', type: 'int' },
      { name: 'b', type: 'string', default: 'x' },
    ]),
  );
  // v3 drops b's default and adds c with a default: reads v2 data, but not v1 data (b missing).
  const v3 = t(
    rec([
      { name: 'a', type: 'int' },
      { name: 'b', type: 'string' },
      { name: 'c', type: 'long', default: 0 },
    ]),
  );
  const history = [
    { version: 1, type: v1 },
    { version: 2, type: v2 },
  ];
  const ok = (level: CompatibilityLevel, candidate = v3, previous = history) =>
    checkCompatibility(level, candidate, previous).length === 0;

  it('BACKWARD checks the new schema reading the latest; BACKWARD_TRANSITIVE reading every version', () => {
    expect(ok('BACKWARD')).toBe(true);
    expect(ok('BACKWARD_TRANSITIVE')).toBe(false);
  });
  it('FORWARD checks the latest schema reading new data; FORWARD_TRANSITIVE every version', () => {
    // Old readers of v3 data: v2 reads a, b (present), ignores c: fine. v1 reads a: fine.
    expect(ok('FORWARD')).toBe(true);
    expect(ok('FORWARD_TRANSITIVE')).toBe(true);
    // Removing a field without default breaks forward compatibility with a reader that needs it.
    const withoutA = t(rec([{ name: 'b', type: 'string', default: 'x' }]));
    expect(ok('FORWARD', withoutA)).toBe(false);
    expect(ok('BACKWARD', withoutA)).toBe(true);
  });
  it('FULL needs both directions against the latest; FULL_TRANSITIVE against all', () => {
    expect(ok('FULL')).toBe(true);
    expect(ok('FULL_TRANSITIVE')).toBe(false);
    const addOptional = t(
      rec([
        { name: 'a', type: 'int' },
        { name: 'b', type: 'string', default: 'x' },
        { name: 'd', type: 'int', default: 1 },
      ]),
    );
    expect(ok('FULL_TRANSITIVE', addOptional)).toBe(true);
  });
  it('NONE accepts anything; an empty history accepts anything', () => {
    const unrelated = t({ type: 'enum', name: 'Z', symbols: ['Q'] });
    expect(ok('NONE', unrelated)).toBe(true);
    expect(ok('FULL_TRANSITIVE', unrelated, [])).toBe(true);
    expect(ok('BACKWARD', unrelated)).toBe(false);
  });
  it('reports which version failed and in which direction', () => {
    const problems = checkCompatibility('FULL_TRANSITIVE', v3, history);
    expect(problems.some((p) => p.version === 1 && p.newSchemaRole === 'reader')).toBe(true);
  });
});

describe('canonical form', () => {
  it('equal schemas spelled differently share one canonical text; different defaults do not', () => {
    const a = parseAvro(
      '{"type":"record","name":"R","fields":[{"name":"a","type":{"type":"int"}}]}',
    ).canonical;
    const b = parseAvro(
      '{ "fields": [ {"type":"int", "name":"a"} ], "name":"R", "type":"record" }',
    ).canonical;
    const c = parseAvro(
      '{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":1}]}',
    ).canonical;
    expect(a).toBe(b);
    expect(c).not.toBe(a);
    expect(parseAvro('"string"').canonical).toBe(parseAvro('{"type":"string"}').canonical);
  });
});
