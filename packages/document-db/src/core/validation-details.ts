// Why a document failed its collection's validator, in the shape MongoDB 5.0+ gives in
// errInfo.details of a DocumentValidationFailure (code 121): for $jsonSchema, the schema rules
// not satisfied (operatorName, specifiedAs, reason, consideredValue, consideredType,
// missingProperties, propertiesNotSatisfied, ...), recursively; for query operators, the
// clauses not satisfied. Computed only after a document failed (the checks run again, rule by
// rule), so a passing write pays nothing for it.
import { bsonTypeNumber, TYPE_ALIASES } from './bson-types.js';
import { compileJsonSchema } from './json-schema.js';
import { compileFilter, isOperatorExpression } from './matcher.js';
import { getPlain, splitPath } from './path.js';
import { type Doc, isDoc, valuesEqual } from './values.js';

const TYPE_NAMES = new Map(Object.entries(TYPE_ALIASES).map(([name, n]) => [n, name]));

function typeName(value: unknown): string {
  return TYPE_NAMES.get(bsonTypeNumber(value)) ?? 'object';
}

/** errInfo.details for a document that failed `validator` (a query filter). */
export function validationDetails(validator: Doc, doc: Doc): Doc {
  const clauses = Object.entries(validator).map(([k, v]) => ({ [k]: v }));
  if (clauses.length === 1) return clauseDetails(clauses[0]!, doc);
  return {
    operatorName: '$and',
    clausesNotSatisfied: failingClauses(clauses, doc),
  };
}

function failingClauses(clauses: Doc[], doc: Doc): Doc[] {
  const out: Doc[] = [];
  clauses.forEach((clause, index) => {
    if (!compileFilter(clause)(doc)) out.push({ index, details: clauseDetails(clause, doc) });
  });
  return out;
}

/** One top-level clause ({field: operand} or {$op: ...}) that the document does not satisfy. */
function clauseDetails(clause: Doc, doc: Doc): Doc {
  const [key, operand] = Object.entries(clause)[0]!;
  switch (key) {
    case '$jsonSchema': {
      const schema = operand as Doc;
      return {
        operatorName: '$jsonSchema',
        ...annotations(schema),
        schemaRulesNotSatisfied: schemaFailures(schema, doc),
      };
    }
    case '$and':
    case '$or':
    case '$nor': {
      const list = (operand as unknown[]).filter(isDoc);
      if (key === '$nor')
        return {
          operatorName: '$nor',
          clausesNotSatisfied: list
            .map((c, index) => ({ c, index }))
            .filter(({ c }) => compileFilter(c)(doc))
            .map(({ c, index }) => ({
              index,
              details: { operatorName: '$nor', specifiedAs: c, reason: 'expression did match' },
            })),
        };
      return { operatorName: key, clausesNotSatisfied: failingClauses(list, doc) };
    }
    case '$expr':
      return {
        operatorName: '$expr',
        specifiedAs: clause,
        reason: 'expression did not match',
        expressionResult: false,
      };
    default:
      break;
  }
  if (key.startsWith('$'))
    return { operatorName: key, specifiedAs: clause, reason: 'expression did not match' };
  const value = getPlain(doc, splitPath(key));
  const operators = isOperatorExpression(operand) ? Object.entries(operand) : [['$eq', operand] as const];
  // The first operator on the field that fails names the failure (MongoDB reports each; one suffices).
  for (const [op, arg] of operators) {
    const single = { [key]: op === '$eq' && !isOperatorExpression(operand) ? arg : { [op]: arg } };
    if (op === '$options' || compileFilter(single)(doc)) continue;
    const specifiedAs = { [key]: isOperatorExpression(operand) ? { [op]: arg } : arg };
    if (op === '$exists')
      return {
        operatorName: '$exists',
        specifiedAs,
        reason: arg ? 'path does not exist' : 'path does exist',
      };
    if (value === undefined && op !== '$ne' && op !== '$nin' && op !== '$not')
      return { operatorName: op, specifiedAs, reason: 'field was missing' };
    if (op === '$type')
      return {
        operatorName: '$type',
        specifiedAs,
        reason: 'type did not match',
        consideredValue: value,
        consideredType: typeName(value),
      };
    const reasons: Record<string, string> = {
      $in: 'no matching value found in array',
      $nin: 'matching value found in array',
      $regex: 'regular expression did not match',
      $size: 'array length was not equal to given size',
      $all: 'array did not contain all specified values',
      $elemMatch: 'array did not satisfy the child predicate',
      $not: 'child expression matched',
    };
    return {
      operatorName: op,
      specifiedAs,
      reason: reasons[op] ?? 'comparison failed',
      consideredValue: value,
    };
  }
  return { operatorName: '$and', specifiedAs: clause, reason: 'expression did not match' };
}

function annotations(schema: Doc): Doc {
  const out: Doc = {};
  if (typeof schema['title'] === 'string') out['title'] = schema['title'];
  if (typeof schema['description'] === 'string') out['description'] = schema['description'];
  return out;
}

const KIND: Record<string, (v: unknown) => boolean> = {
  number: (v) => ['double', 'int', 'long', 'decimal'].includes(typeName(v)),
  string: (v) => typeof v === 'string',
  array: (v) => Array.isArray(v),
  object: (v) => isDoc(v),
};

/** The keyword of a schema a value belongs to: only values of its kind are constrained. */
const KEYWORD_KIND: Record<string, string> = {
  minimum: 'number',
  maximum: 'number',
  multipleOf: 'number',
  minLength: 'string',
  maxLength: 'string',
  pattern: 'string',
  minItems: 'array',
  maxItems: 'array',
  uniqueItems: 'array',
  items: 'array',
  required: 'object',
  minProperties: 'object',
  maxProperties: 'object',
  properties: 'object',
  patternProperties: 'object',
  additionalProperties: 'object',
  dependencies: 'object',
};

const COMPANIONS: Record<string, string[]> = {
  minimum: ['exclusiveMinimum'],
  maximum: ['exclusiveMaximum'],
  items: ['additionalItems'],
  additionalProperties: ['properties', 'patternProperties'],
};

/** The rules of `schema` that `value` does not satisfy, each as MongoDB describes it. */
export function schemaFailures(schema: Doc, value: unknown): Doc[] {
  const out: Doc[] = [];
  for (const [keyword, operand] of Object.entries(schema)) {
    if (['title', 'description', 'exclusiveMinimum', 'exclusiveMaximum', 'additionalItems'].includes(keyword))
      continue;
    const kind = KEYWORD_KIND[keyword];
    if (kind && !KIND[kind]!(value)) continue;
    const rule: Doc = { [keyword]: operand };
    for (const c of COMPANIONS[keyword] ?? []) {
      const companion = schema[c];
      if (companion === undefined) continue;
      // additionalProperties needs only the names of the other properties, not their rules.
      rule[c] =
        keyword === 'additionalProperties' && isDoc(companion)
          ? Object.fromEntries(Object.keys(companion).map((k) => [k, {}]))
          : companion;
    }
    if (compileJsonSchema(rule)(value)) continue;
    out.push(keywordFailure(keyword, operand, rule, value));
  }
  return out;
}

function keywordFailure(keyword: string, operand: unknown, rule: Doc, value: unknown): Doc {
  const base: Doc = { operatorName: keyword, specifiedAs: { [keyword]: operand } };
  const obj = value as Doc;
  switch (keyword) {
    case 'type':
    case 'bsonType':
      return {
        ...base,
        reason: 'type did not match',
        consideredValue: value,
        consideredType: typeName(value),
      };
    case 'enum':
      return { ...base, reason: 'value was not found in enum', consideredValue: value };
    case 'minimum':
    case 'maximum':
      return {
        operatorName: keyword,
        specifiedAs: rule,
        reason: 'comparison failed',
        consideredValue: value,
      };
    case 'multipleOf':
      return {
        ...base,
        reason: 'considered value is not a multiple of the specified value',
        consideredValue: value,
      };
    case 'minLength':
    case 'maxLength':
      return { ...base, reason: 'specified string length was not satisfied', consideredValue: value };
    case 'pattern':
      return { ...base, reason: 'regular expression did not match', consideredValue: value };
    case 'minItems':
    case 'maxItems':
      return { ...base, reason: 'array did not match specified length', consideredValue: value };
    case 'uniqueItems': {
      const items = value as unknown[];
      const duplicatedValue = items.find((a, i) => items.slice(i + 1).some((b) => valuesEqual(a, b)));
      return { ...base, reason: 'found a duplicate item', consideredValue: value, duplicatedValue };
    }
    case 'items': {
      const items = value as unknown[];
      if (Array.isArray(operand)) {
        // A tuple: item i against schema i, the rest against additionalItems.
        const extra = rule['additionalItems'];
        const schemaAt = (i: number): unknown => (i < operand.length ? operand[i] : extra);
        const index = items.findIndex((item, i) => {
          const sub = schemaAt(i);
          if (sub === undefined || sub === true) return false;
          return sub === false || !compileJsonSchema(sub)(item);
        });
        const sub = schemaAt(index);
        return {
          operatorName: index < operand.length ? 'items' : 'additionalItems',
          reason: 'At least one item did not match the sub-schema',
          itemIndex: index,
          ...(isDoc(sub) ? { details: schemaFailures(sub, items[index]) } : {}),
        };
      }
      const check = compileJsonSchema(operand);
      const index = items.findIndex((item) => !check(item));
      return {
        operatorName: 'items',
        reason: 'At least one item did not match the sub-schema',
        itemIndex: index,
        details: schemaFailures(operand as Doc, items[index]),
      };
    }
    case 'required': {
      const missingProperties = (operand as string[]).filter((f) => obj[f] === undefined);
      return { ...base, missingProperties };
    }
    case 'minProperties':
    case 'maxProperties':
      return {
        ...base,
        reason: 'specified number of properties was not satisfied',
        numberOfProperties: Object.keys(obj).length,
      };
    case 'properties': {
      const propertiesNotSatisfied: Doc[] = [];
      for (const [name, sub] of Object.entries(operand as Doc)) {
        const field = obj[name];
        if (field === undefined || compileJsonSchema(sub)(field)) continue;
        propertiesNotSatisfied.push({
          propertyName: name,
          ...annotations(sub as Doc),
          details: schemaFailures(sub as Doc, field),
        });
      }
      return { operatorName: 'properties', propertiesNotSatisfied };
    }
    case 'patternProperties': {
      const details: Doc[] = [];
      for (const [pattern, sub] of Object.entries(operand as Doc)) {
        const re = new RegExp(pattern, 'u');
        for (const [name, field] of Object.entries(obj)) {
          if (!re.test(name) || compileJsonSchema(sub)(field)) continue;
          details.push({
            propertyName: name,
            regexMatched: pattern,
            details: schemaFailures(sub as Doc, field),
          });
        }
      }
      return { operatorName: 'patternProperties', details };
    }
    case 'additionalProperties': {
      const known = new Set(isDoc(rule['properties']) ? Object.keys(rule['properties']) : []);
      const patterns = isDoc(rule['patternProperties'])
        ? Object.keys(rule['patternProperties']).map((p) => new RegExp(p, 'u'))
        : [];
      const extra = Object.keys(obj).filter((n) => !known.has(n) && !patterns.some((re) => re.test(n)));
      if (operand === false) return { ...base, additionalProperties: extra };
      const check = compileJsonSchema(operand);
      const failing = extra.filter((n) => !check(obj[n]));
      return {
        operatorName: 'additionalProperties',
        reason: 'at least one additional property did not match the subschema',
        failingProperty: failing[0],
        details: schemaFailures(operand as Doc, obj[failing[0]!]),
      };
    }
    case 'dependencies': {
      const failingDependencies: Doc[] = [];
      for (const [name, dep] of Object.entries(operand as Doc)) {
        if (obj[name] === undefined) continue;
        if (Array.isArray(dep)) {
          const missingProperties = (dep as string[]).filter((d) => obj[d] === undefined);
          if (missingProperties.length > 0)
            failingDependencies.push({ conditionalProperty: name, missingProperties });
        } else if (!compileJsonSchema(dep)(value))
          failingDependencies.push({ conditionalProperty: name, details: schemaFailures(dep as Doc, value) });
      }
      return { operatorName: 'dependencies', failingDependencies };
    }
    case 'allOf':
    case 'anyOf':
    case 'oneOf': {
      const schemas = operand as Doc[];
      const matching = schemas.map((s, i) => (compileJsonSchema(s)(value) ? i : -1)).filter((i) => i >= 0);
      if (keyword === 'oneOf' && matching.length > 1)
        return {
          operatorName: 'oneOf',
          reason: 'more than one subschema matched',
          matchingSchemaIndexes: matching,
        };
      return {
        operatorName: keyword,
        schemasNotSatisfied: schemas
          .map((s, index) => ({ s, index }))
          .filter(({ index }) => !matching.includes(index))
          .map(({ s, index }) => ({ index, details: schemaFailures(s, value) })),
      };
    }
    case 'not':
      return {
        operatorName: 'not',
        reason: 'child expression matched',
        details: [{ operatorName: 'not', childSchema: operand }],
      };
    default:
      return { ...base, reason: 'did not match' };
  }
}
