// Bad input never yields a 5xx: random bodies, schemas, subjects and versions thrown at every
// route. And canonicalisation is stable: the canonical text of a canonical text is itself.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAvro } from '../src/registry/avro-schema.js';
import { call, type Running, startRegistry } from './helpers.js';

const RUNS = process.env.DDIA_LONG === '1' ? 2_000 : 150;

const primitive = fc.constantFrom('null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string');
const name = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,6}$/);
// Random Avro-shaped schemas, valid and not (duplicate names, bad defaults, unknown types).
const avroish = fc.letrec((tie) => ({
  schema: fc.oneof(
    { depthSize: 'small' },
    primitive,
    fc.record({ type: primitive }),
    fc.constantFrom('nope', 'Person', 42, null, {}, []),
    fc.record({ type: fc.constant('array'), items: tie('schema') }),
    fc.record({ type: fc.constant('map'), values: tie('schema') }),
    fc.array(tie('schema'), { maxLength: 3 }),
    fc.record({
      type: fc.constant('enum'),
      name,
      symbols: fc.array(name, { maxLength: 4 }),
      default: fc.option(name, { nil: undefined }),
    }),
    fc.record({ type: fc.constant('fixed'), name, size: fc.integer({ min: -2, max: 20 }) }),
    fc.record({
      type: fc.constant('record'),
      name,
      fields: fc.array(
        fc.record({ name, type: tie('schema'), default: fc.option(fc.jsonValue(), { nil: undefined }) }),
        { maxLength: 4 },
      ),
    }),
  ),
})).schema;

const PATHS: [string, string][] = [
  ['POST', '/subjects/{s}/versions'],
  ['POST', '/subjects/{s}'],
  ['POST', '/compatibility/subjects/{s}/versions/{v}'],
  ['POST', '/compatibility/subjects/{s}/versions'],
  ['GET', '/subjects/{s}/versions/{v}'],
  ['GET', '/subjects/{s}/versions/{v}/schema'],
  ['DELETE', '/subjects/{s}/versions/{v}'],
  ['DELETE', '/subjects/{s}'],
  ['PUT', '/config/{s}'],
  ['PUT', '/mode/{s}'],
  ['GET', '/schemas/ids/{v}'],
];

describe('fuzzing the registry', () => {
  let r: Running;
  beforeAll(async () => {
    r = await startRegistry();
  });
  afterAll(() => r.close());

  it('answers every random request below 500 with a Confluent error body', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...PATHS),
        fc.stringMatching(/^[a-z]{1,3}$/),
        fc.oneof(fc.constantFrom('1', '2', 'latest', '-1', '0', 'x', '99999999999'), fc.nat().map(String)),
        fc.oneof(
          avroish.map((s) => ({ schema: JSON.stringify(s) })),
          avroish.map((s) => ({
            schema: JSON.stringify(s),
            references: [{ name: 'X', subject: 'a', version: 1 }],
          })),
          fc.jsonValue(),
          fc.record({ compatibility: fc.string(), mode: fc.string() }),
        ),
        async ([method, template], subject, version, body) => {
          const path = template.replace('{s}', subject).replace('{v}', version);
          const answer = await call(
            r.url,
            method,
            path,
            method === 'GET' || method === 'DELETE' ? undefined : body,
          );
          expect(answer.status, `${method} ${path} ${JSON.stringify(body)} -> ${answer.text}`).toBeLessThan(
            500,
          );
          if (answer.status >= 400) expect(typeof answer.body.error_code).toBe('number');
        },
      ),
      { numRuns: RUNS, seed: Number(process.env.DDIA_SEED ?? 7) },
    );
  });

  it('canonical text is a fixed point and every accepted schema round-trips its canonical form', () => {
    fc.assert(
      fc.property(avroish, (schema) => {
        let canonical: string;
        try {
          canonical = parseAvro(JSON.stringify(schema)).canonical;
        } catch {
          return; // invalid schemas are refused; that is covered above
        }
        expect(parseAvro(canonical).canonical).toBe(canonical);
      }),
      { numRuns: RUNS * 4, seed: 11 },
    );
  });
});
