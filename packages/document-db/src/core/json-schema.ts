// $jsonSchema: MongoDB's subset of JSON Schema draft 4 (plus `bsonType`), usable as a query
// operator and as a collection's validator (chapter 2, "Schema flexibility in the document
// model": schema-on-read unless you ask for schema-on-write). Keywords MongoDB does not
// support ($ref, $schema, default, definitions, format, id, type "integer") are refused, as is
// any unknown keyword. As in JSON Schema, a keyword constrains only values of its kind:
// `minimum` says nothing about a string, `properties` nothing about an array.

import { bsonTypeNumber, TYPE_ALIASES } from './bson-types.js';
import { DocErrors, fail } from './errors.js';
import { compareValues, isDoc, numberOf, valuesEqual } from './values.js';

type Check = (value: unknown) => boolean;

const JSON_TYPES: Record<string, Check> = {
  object: (v) => isDoc(v),
  array: (v) => Array.isArray(v),
  number: (v) => numberOf(v) !== undefined,
  boolean: (v) => typeof v === 'boolean',
  string: (v) => typeof v === 'string',
  null: (v) => v === null,
};

const IGNORED = new Set(['title', 'description']);
const UNSUPPORTED = new Set(['$ref', '$schema', 'default', 'definitions', 'format', 'id']);

function bad(message: string): never {
  return fail(DocErrors.failedToParse, `$jsonSchema: ${message}`);
}

function nonNegativeInteger(keyword: string, operand: unknown): number {
  const n = numberOf(operand);
  if (n === undefined || !Number.isInteger(n) || n < 0) bad(`${keyword} must be a non-negative integer`);
  return n;
}

function numberOperand(keyword: string, operand: unknown): number {
  const n = numberOf(operand);
  if (n === undefined) bad(`${keyword} must be a number`);
  return n;
}

function schemaList(keyword: string, operand: unknown): Check[] {
  if (!Array.isArray(operand) || operand.length === 0) bad(`${keyword} must be a non-empty array`);
  return operand.map((s) => compileJsonSchema(s));
}

function bsonTypeCheck(name: unknown): Check {
  if (name === 'number') return (v) => [1, 16, 18, 19].includes(bsonTypeNumber(v));
  if (typeof name !== 'string' || TYPE_ALIASES[name] === undefined) bad(`unknown bsonType: ${String(name)}`);
  const code = TYPE_ALIASES[name];
  return (v) => v !== undefined && bsonTypeNumber(v) === code;
}

/** Compiles a $jsonSchema document into a predicate over a value (the document, at the root). */
export function compileJsonSchema(schema: unknown): Check {
  if (!isDoc(schema)) bad('a schema must be an object');
  const checks: Check[] = [];
  const onKind = (kind: Check, check: Check) => checks.push((v) => !kind(v) || check(v));
  const isNumber = JSON_TYPES.number!;
  const isString = JSON_TYPES.string!;
  const isArray = JSON_TYPES.array!;
  const isObject = JSON_TYPES.object!;
  for (const [keyword, operand] of Object.entries(schema)) {
    if (IGNORED.has(keyword)) continue;
    if (UNSUPPORTED.has(keyword)) bad(`keyword '${keyword}' is not supported`);
    switch (keyword) {
      case 'type': {
        const names = Array.isArray(operand) ? operand : [operand];
        const types = names.map((n) => {
          if (n === 'integer') bad("type 'integer' is not supported; use bsonType 'int' or 'long'");
          if (typeof n !== 'string' || !JSON_TYPES[n]) bad(`unknown type: ${String(n)}`);
          return JSON_TYPES[n]!;
        });
        checks.push((v) => types.some((t) => t(v)));
        break;
      }
      case 'bsonType': {
        const types = (Array.isArray(operand) ? operand : [operand]).map(bsonTypeCheck);
        checks.push((v) => types.some((t) => t(v)));
        break;
      }
      case 'enum': {
        if (!Array.isArray(operand) || operand.length === 0) bad('enum must be a non-empty array');
        checks.push((v) => operand.some((e) => valuesEqual(e, v)));
        break;
      }
      case 'minimum':
      case 'maximum': {
        const limit = numberOperand(keyword, operand);
        const exclusive = schema[keyword === 'minimum' ? 'exclusiveMinimum' : 'exclusiveMaximum'] === true;
        const sign = keyword === 'minimum' ? 1 : -1;
        onKind(isNumber, (v) => {
          const c = compareValues(v, limit) * sign;
          return exclusive ? c > 0 : c >= 0;
        });
        break;
      }
      case 'exclusiveMinimum':
      case 'exclusiveMaximum': {
        if (typeof operand !== 'boolean') bad(`${keyword} must be a boolean`);
        if (schema[keyword === 'exclusiveMinimum' ? 'minimum' : 'maximum'] === undefined)
          bad(`${keyword} needs ${keyword === 'exclusiveMinimum' ? 'minimum' : 'maximum'}`);
        break;
      }
      case 'multipleOf': {
        const m = numberOperand(keyword, operand);
        if (m <= 0) bad('multipleOf must be positive');
        onKind(isNumber, (v) => Number.isInteger(numberOf(v)! / m));
        break;
      }
      case 'minLength':
      case 'maxLength': {
        const n = nonNegativeInteger(keyword, operand);
        // Lengths count code points, as JSON Schema says (not UTF-16 units).
        onKind(isString, (v) =>
          keyword === 'minLength' ? [...(v as string)].length >= n : [...(v as string)].length <= n,
        );
        break;
      }
      case 'pattern': {
        if (typeof operand !== 'string') bad('pattern must be a string');
        let re: RegExp;
        try {
          re = new RegExp(operand, 'u');
        } catch (err) {
          return bad(`invalid pattern: ${(err as Error).message}`);
        }
        onKind(isString, (v) => re.test(v as string));
        break;
      }
      case 'minItems':
      case 'maxItems': {
        const n = nonNegativeInteger(keyword, operand);
        onKind(isArray, (v) =>
          keyword === 'minItems' ? (v as unknown[]).length >= n : (v as unknown[]).length <= n,
        );
        break;
      }
      case 'uniqueItems': {
        if (typeof operand !== 'boolean') bad('uniqueItems must be a boolean');
        if (operand)
          onKind(isArray, (v) => {
            const items = v as unknown[];
            return items.every((a, i) => items.slice(i + 1).every((b) => !valuesEqual(a, b)));
          });
        break;
      }
      case 'items': {
        if (Array.isArray(operand)) {
          const tuple = operand.map((s) => compileJsonSchema(s));
          const extra = schema['additionalItems'];
          const extraCheck: Check =
            extra === undefined || extra === true
              ? () => true
              : extra === false
                ? () => false
                : compileJsonSchema(extra);
          onKind(isArray, (v) =>
            (v as unknown[]).every((item, i) => (i < tuple.length ? tuple[i]!(item) : extraCheck(item))),
          );
        } else {
          const each = compileJsonSchema(operand);
          onKind(isArray, (v) => (v as unknown[]).every(each));
        }
        break;
      }
      case 'additionalItems':
        if (typeof operand !== 'boolean' && !isDoc(operand))
          bad('additionalItems must be a boolean or an object');
        break;
      case 'required': {
        if (!Array.isArray(operand) || operand.length === 0 || !operand.every((f) => typeof f === 'string'))
          bad('required must be a non-empty array of strings');
        onKind(isObject, (v) => operand.every((f) => (v as Record<string, unknown>)[f] !== undefined));
        break;
      }
      case 'minProperties':
      case 'maxProperties': {
        const n = nonNegativeInteger(keyword, operand);
        onKind(isObject, (v) =>
          keyword === 'minProperties'
            ? Object.keys(v as object).length >= n
            : Object.keys(v as object).length <= n,
        );
        break;
      }
      case 'properties': {
        if (!isDoc(operand)) bad('properties must be an object');
        const props = Object.entries(operand).map(([name, s]) => [name, compileJsonSchema(s)] as const);
        onKind(isObject, (v) =>
          props.every(([name, check]) => {
            const field = (v as Record<string, unknown>)[name];
            return field === undefined || check(field);
          }),
        );
        break;
      }
      case 'patternProperties': {
        if (!isDoc(operand)) bad('patternProperties must be an object');
        const patterns = Object.entries(operand).map(
          ([p, s]) => [new RegExp(p, 'u'), compileJsonSchema(s)] as const,
        );
        onKind(isObject, (v) =>
          Object.entries(v as Record<string, unknown>).every(([name, field]) =>
            patterns.every(([re, check]) => !re.test(name) || check(field)),
          ),
        );
        break;
      }
      case 'additionalProperties': {
        if (typeof operand !== 'boolean' && !isDoc(operand))
          bad('additionalProperties must be a boolean or an object');
        if (operand === true) break;
        const known = new Set(isDoc(schema['properties']) ? Object.keys(schema['properties']) : []);
        const patterns = isDoc(schema['patternProperties'])
          ? Object.keys(schema['patternProperties']).map((p) => new RegExp(p, 'u'))
          : [];
        const extraCheck: Check = operand === false ? () => false : compileJsonSchema(operand);
        onKind(isObject, (v) =>
          Object.entries(v as Record<string, unknown>).every(
            ([name, field]) => known.has(name) || patterns.some((re) => re.test(name)) || extraCheck(field),
          ),
        );
        break;
      }
      case 'dependencies': {
        if (!isDoc(operand)) bad('dependencies must be an object');
        const deps = Object.entries(operand).map(([name, dep]): [string, Check] => {
          if (Array.isArray(dep)) {
            if (!dep.every((d) => typeof d === 'string')) bad('a property dependency lists field names');
            return [name, (v) => dep.every((d) => (v as Record<string, unknown>)[d as string] !== undefined)];
          }
          return [name, compileJsonSchema(dep)];
        });
        onKind(isObject, (v) =>
          deps.every(([name, check]) => (v as Record<string, unknown>)[name] === undefined || check(v)),
        );
        break;
      }
      case 'allOf': {
        const all = schemaList(keyword, operand);
        checks.push((v) => all.every((c) => c(v)));
        break;
      }
      case 'anyOf': {
        const any = schemaList(keyword, operand);
        checks.push((v) => any.some((c) => c(v)));
        break;
      }
      case 'oneOf': {
        const one = schemaList(keyword, operand);
        checks.push((v) => one.filter((c) => c(v)).length === 1);
        break;
      }
      case 'not': {
        const inner = compileJsonSchema(operand);
        checks.push((v) => !inner(v));
        break;
      }
      default:
        bad(`unknown keyword: ${keyword}`);
    }
  }
  return (value) => checks.every((c) => c(value));
}
