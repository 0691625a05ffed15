// fast-check generators of documents, filters, projections and updates over a small alphabet
// of field names and values, so that generated filters often hit generated documents.
import fc from 'fast-check';

export const FIELDS = ['a', 'b', 'c'] as const;
const nonNull = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: -3, max: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom(1.5, -0.5) },
  { weight: 2, arbitrary: fc.constantFrom('x', 'y', 'xy', '') },
  { weight: 1, arbitrary: fc.boolean() },
);
const scalar = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: -3, max: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom(1.5, -0.5) },
  { weight: 2, arbitrary: fc.constantFrom('x', 'y', 'xy', '') },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.boolean() },
);

// Arrays directly inside arrays are left out of the differential tests: mingo walks into them
// where MongoDB does not (named regression tests cover nested arrays against MongoDB's rules).
export const value: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown; object: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 6, arbitrary: scalar },
    { weight: 2, arbitrary: fc.array(fc.oneof(scalar, tie('object')), { maxLength: 3 }) },
    { weight: 2, arbitrary: tie('object') },
  ),
  object: fc.dictionary(fc.constantFrom(...FIELDS), tie('value'), { maxKeys: 3, noNullPrototype: true }),
})).value;

export const doc = fc
  .tuple(
    fc.integer({ min: 0, max: 1_000_000 }),
    fc.dictionary(fc.constantFrom(...FIELDS), value, { maxKeys: 3, noNullPrototype: true }),
  )
  .map(([id, fields]) => ({ _id: id, ...fields }));

export const docs = fc.uniqueArray(doc, { selector: (d) => d._id, maxLength: 12 });

export const path = fc.oneof(
  fc.constantFrom(...FIELDS),
  fc.tuple(fc.constantFrom(...FIELDS), fc.constantFrom('a', 'b', '0', '1')).map(([x, y]) => `${x}.${y}`),
);

const leafOperator: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.record({ $eq: value }),
  fc.record({ $ne: scalar }),
  // Range operators with null are left out: MongoDB's {$gte: null} matches a missing field, mingo's does not.
  fc.record({ $gt: nonNull }),
  fc.record({ $gte: nonNull }),
  fc.record({ $lt: nonNull }),
  fc.record({ $lte: nonNull }),
  fc.record({ $in: fc.array(scalar, { maxLength: 3 }) }),
  fc.record({ $nin: fc.array(scalar, { maxLength: 3 }) }),
  fc.record({ $exists: fc.boolean() }),
  fc.record({ $regex: fc.constantFrom('^x', 'y$', 'x') }),
  fc.record({
    $elemMatch: fc.oneof(fc.record({ $gt: fc.integer({ min: -3, max: 3 }) }), fc.record({ a: scalar })),
  }),
  fc.record({
    $not: fc.oneof(fc.record({ $gt: fc.integer({ min: -3, max: 3 }) }), fc.record({ $eq: scalar })),
  }),
  fc.record({ $gt: fc.integer({ min: -3, max: 3 }), $lt: fc.integer({ min: -3, max: 3 }) }),
);

// $type and $size only on top-level fields, $all only with arrays: through arrays mingo answers
// differently from MongoDB (named regression tests in matcher.test.ts hold MongoDB's answers).
const topLevelOperator: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.record({ $type: fc.constantFrom('array', 'bool') }),
  fc.record({ $size: fc.integer({ min: 0, max: 3 }) }),
);

const fieldClause = fc.oneof(
  fc
    .tuple(path, fc.oneof({ weight: 1, arbitrary: value }, { weight: 3, arbitrary: leafOperator }))
    .map(([p, operand]) => ({ [p]: operand })),
  fc.tuple(fc.constantFrom(...FIELDS), topLevelOperator).map(([p, operand]) => ({ [p]: operand })),
);

export const filter: fc.Arbitrary<Record<string, unknown>> = fc.letrec<{ filter: Record<string, unknown> }>(
  (tie) => ({
    filter: fc.oneof(
      { depthSize: 'small' },
      { weight: 5, arbitrary: fieldClause },
      { weight: 1, arbitrary: fc.record({ $and: fc.array(tie('filter'), { minLength: 1, maxLength: 2 }) }) },
      { weight: 1, arbitrary: fc.record({ $or: fc.array(tie('filter'), { minLength: 1, maxLength: 2 }) }) },
      { weight: 1, arbitrary: fc.record({ $nor: fc.array(tie('filter'), { minLength: 1, maxLength: 2 }) }) },
    ),
  }),
).filter;

const updatePath = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...FIELDS) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(...FIELDS), fc.constantFrom('a', 'b', '0'))
      .map(([x, y]) => `${x}.${y}`),
  },
);
const small = fc.integer({ min: -3, max: 3 });
const oneUpdate: fc.Arbitrary<[string, Record<string, unknown>]> = fc.oneof(
  fc.tuple(
    fc.constant('$set'),
    fc.dictionary(updatePath, value, { minKeys: 1, maxKeys: 2, noNullPrototype: true }),
  ),
  fc.tuple(
    fc.constant('$unset'),
    fc.dictionary(updatePath, fc.constant(''), { minKeys: 1, maxKeys: 2, noNullPrototype: true }),
  ),
  fc.tuple(
    fc.constant('$inc'),
    fc.dictionary(updatePath, small, { minKeys: 1, maxKeys: 1, noNullPrototype: true }),
  ),
  fc.tuple(
    fc.constant('$mul'),
    fc.dictionary(updatePath, small, { minKeys: 1, maxKeys: 1, noNullPrototype: true }),
  ),
  fc.tuple(
    fc.constant('$min'),
    fc.dictionary(updatePath, scalar, { minKeys: 1, maxKeys: 1, noNullPrototype: true }),
  ),
  fc.tuple(
    fc.constant('$max'),
    fc.dictionary(updatePath, scalar, { minKeys: 1, maxKeys: 1, noNullPrototype: true }),
  ),
  fc.tuple(
    fc.constant('$push'),
    fc.dictionary(updatePath, fc.oneof(scalar, fc.record({ $each: fc.array(scalar, { maxLength: 3 }) })), {
      minKeys: 1,
      maxKeys: 1,
      noNullPrototype: true,
    }),
  ),
  fc.tuple(
    fc.constant('$addToSet'),
    fc.dictionary(updatePath, fc.oneof(scalar, fc.record({ $each: fc.array(scalar, { maxLength: 3 }) })), {
      minKeys: 1,
      maxKeys: 1,
      noNullPrototype: true,
    }),
  ),
  fc.tuple(
    fc.constant('$pull'),
    fc.dictionary(updatePath, fc.oneof(nonNull, fc.record({ $gte: small })), {
      minKeys: 1,
      maxKeys: 1,
      noNullPrototype: true,
    }),
  ),
  fc.tuple(
    fc.constant('$pop'),
    fc.dictionary(updatePath, fc.constantFrom(1, -1), { minKeys: 1, maxKeys: 1, noNullPrototype: true }),
  ),
  fc.tuple(
    fc.constant('$rename'),
    fc.tuple(fc.constantFrom(...FIELDS), fc.constantFrom('d', 'e')).map(([from, to]) => ({ [from]: to })),
  ),
);

export const update = fc
  .array(oneUpdate, { minLength: 1, maxLength: 2 })
  .map((ops) => Object.fromEntries(ops) as Record<string, Record<string, unknown>>);

export const projection = fc.oneof(
  fc.dictionary(path, fc.constant(1), { minKeys: 1, maxKeys: 2, noNullPrototype: true }),
  fc.dictionary(path, fc.constant(0), { minKeys: 1, maxKeys: 2, noNullPrototype: true }),
  fc
    .tuple(
      fc.constantFrom(...FIELDS),
      fc.oneof(
        fc.integer({ min: -3, max: 3 }),
        fc.tuple(fc.integer({ min: -3, max: 3 }), fc.integer({ min: 1, max: 3 })),
      ),
    )
    .map(([p, n]) => ({ [p]: { $slice: n } })),
  fc
    .tuple(fc.constantFrom(...FIELDS), fc.record({ a: scalar }))
    .map(([p, f]) => ({ [p]: { $elemMatch: f } })),
  fc
    .tuple(
      fc.dictionary(path, fc.constant(1), { minKeys: 1, maxKeys: 2, noNullPrototype: true }),
      fc.boolean(),
    )
    .map(([p, id]) => ({ ...p, _id: id ? 1 : 0 })),
);

export const sortSpec = fc
  .uniqueArray(fc.tuple(path, fc.constantFrom(1 as const, -1 as const)), {
    minLength: 1,
    maxLength: 2,
    selector: (t) => t[0].split('.')[0],
  })
  .map((keys) => Object.fromEntries(keys) as Record<string, 1 | -1>);

/** Cases per differential property: thousands per run, many more with DDIA_LONG=1. */
export const RUNS = Number(process.env.DDIA_LONG) ? 100_000 : 4_000;
