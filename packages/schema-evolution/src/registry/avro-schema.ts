// Parsing and canonicalising Avro schemas for the registry.
//
// The registry promises "the same schema gets one id". Two texts are the same schema when
// they differ only in whitespace, key order, or the `{"type":"int"}` spelling of a primitive;
// we rewrite every accepted schema into one canonical JSON text (fixed key order, compact) and
// key schemas by that text. Unlike Avro's Parsing Canonical Form we keep defaults, aliases,
// docs and custom attributes, because they change how readers resolve data (defaults and
// aliases) and because users expect to read back what they registered.
import avro from 'avsc';
import { RegistryError, RegistryErrors } from './errors.js';

export type AvroType = avro.Type;

const PRIMITIVES = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);

// Key order of the canonical text: the attributes that define the type first, in the order the
// Avro specification lists them, then everything else sorted by name.
const TYPE_KEY_ORDER = [
  'type',
  'name',
  'namespace',
  'doc',
  'aliases',
  'fields',
  'symbols',
  'default',
  'items',
  'values',
  'size',
  'logicalType',
  'precision',
  'scale',
];
const FIELD_KEY_ORDER = ['name', 'doc', 'type', 'default', 'order', 'aliases'];

/** Maximum nesting of a schema document, so a hostile body cannot exhaust the stack. */
export const SCHEMA_DEPTH_MAX = 64;

function ordered(object: Record<string, unknown>, order: readonly string[]): [string, unknown][] {
  const known = order.filter((k) => k in object).map((k): [string, unknown] => [k, object[k]]);
  const rest = Object.keys(object)
    .filter((k) => !order.includes(k))
    .sort()
    .map((k): [string, unknown] => [k, object[k]]);
  return [...known, ...rest];
}

function normaliseType(schema: unknown, depth: number): unknown {
  if (depth > SCHEMA_DEPTH_MAX) {
    throw new RegistryError(
      RegistryErrors.invalidSchema,
      `Invalid schema: nested deeper than ${SCHEMA_DEPTH_MAX}`,
    );
  }
  if (Array.isArray(schema)) return schema.map((branch) => normaliseType(branch, depth + 1));
  if (schema === null || typeof schema !== 'object') return schema;
  const object = schema as Record<string, unknown>;
  const keys = Object.keys(object);
  if (keys.length === 1 && typeof object.type === 'string' && PRIMITIVES.has(object.type)) return object.type;
  const out: Record<string, unknown> = {};
  for (const [key, value] of ordered(object, TYPE_KEY_ORDER)) {
    if (key === 'type' || key === 'items' || key === 'values') out[key] = normaliseType(value, depth + 1);
    else if (key === 'fields' && Array.isArray(value))
      out[key] = value.map((f) => normaliseField(f, depth + 1));
    else out[key] = value;
  }
  return out;
}

function normaliseField(field: unknown, depth: number): unknown {
  if (field === null || typeof field !== 'object' || Array.isArray(field)) return field;
  const out: Record<string, unknown> = {};
  for (const [key, value] of ordered(field as Record<string, unknown>, FIELD_KEY_ORDER)) {
    out[key] = key === 'type' ? normaliseType(value, depth + 1) : value;
  }
  return out;
}

/** The canonical text of a schema document (already parsed from JSON). */
export function canonicalText(schemaJson: unknown): string {
  return JSON.stringify(normaliseType(schemaJson, 0));
}

/** Parses a schema text as JSON, or names the problem with 42201. */
export function parseSchemaJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    // A bare name such as `string` (without quotes) is not JSON but Avro's Java parser accepts
    // it as a type name; Confluent does too, so we do.
    if (/^[A-Za-z_][A-Za-z0-9_.]*$/.test(text.trim())) return text.trim();
    throw new RegistryError(
      RegistryErrors.invalidSchema,
      `Invalid schema: not JSON: ${(err as Error).message}`,
    );
  }
}

export interface ParsedAvro {
  type: AvroType;
  /** Canonical JSON text: the registry's key for "the same schema". */
  canonical: string;
}

/**
 * Parses `text` into an avsc Type. `referencedTexts` are the canonical texts of referenced
 * schemas in dependency order (a referenced schema before the schemas that use it): their named
 * types are defined first so that `text` can use them by name (Confluent schema references).
 */
export function parseAvro(text: string, referencedTexts: readonly string[] = []): ParsedAvro {
  const json = parseSchemaJson(text);
  const registry: Record<string, AvroType> = {};
  for (const ref of referencedTexts) {
    try {
      avro.Type.forSchema(JSON.parse(ref) as avro.Schema, { registry });
    } catch (err) {
      throw new RegistryError(
        RegistryErrors.invalidSchema,
        `Invalid schema: a referenced schema does not parse: ${(err as Error).message}`,
      );
    }
  }
  let type: AvroType;
  try {
    canonicalText(json); // depth check before avsc recurses
    type = avro.Type.forSchema(json as avro.Schema, { registry });
  } catch (err) {
    if (err instanceof RegistryError) throw err;
    throw new RegistryError(RegistryErrors.invalidSchema, `Invalid schema: ${(err as Error).message}`);
  }
  return { type, canonical: canonicalText(json) };
}
