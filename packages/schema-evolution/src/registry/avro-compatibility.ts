// Can a reader with schema R decode data written with schema W? The rules are Avro's schema
// resolution (Avro specification, "Schema Resolution"; DDIA ch. 4, "The writer's schema and the
// reader's schema"), written out the way Avro's Java `SchemaCompatibility` does so that every
// refusal names its location and reason. avsc's own resolver is consulted as a second opinion:
// a pair is compatible only when both agree.
import type { AvroType } from './avro-schema.js';

export type IncompatibilityKind =
  | 'NAME_MISMATCH'
  | 'FIXED_SIZE_MISMATCH'
  | 'MISSING_ENUM_SYMBOLS'
  | 'READER_FIELD_MISSING_DEFAULT_VALUE'
  | 'TYPE_MISMATCH'
  | 'MISSING_UNION_BRANCH'
  | 'RESOLVER_REFUSED';

export interface Incompatibility {
  kind: IncompatibilityKind;
  /** JSON-pointer-like path into the reader schema, e.g. `/fields/1/type`. */
  location: string;
  description: string;
}

// avsc's classes are typed loosely; these are the members the rules read.
interface Named {
  name?: string;
  aliases?: string[];
}
interface FieldLike {
  name: string;
  type: AvroType;
  aliases: string[];
  defaultValue(): unknown;
}

// Avro's promotions: a writer's int may be read as long, float or double, and so on.
const PROMOTIONS: Record<string, readonly string[]> = {
  int: ['long', 'float', 'double'],
  long: ['float', 'double'],
  float: ['double'],
  string: ['bytes'],
  bytes: ['string'],
};

function isUnion(type: AvroType): boolean {
  return type.typeName.startsWith('union');
}

function branches(type: AvroType): AvroType[] {
  return (type as unknown as { types: AvroType[] }).types;
}

function unqualified(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? name : name.slice(dot + 1);
}

/** Named types match by unqualified name, or when the reader lists the writer's name as an alias. */
function namesMatch(reader: AvroType, writer: AvroType): boolean {
  const r = reader as unknown as Named;
  const w = writer as unknown as Named;
  if (!r.name || !w.name) return true;
  if (unqualified(r.name) === unqualified(w.name)) return true;
  return (r.aliases ?? []).some(
    (alias) => alias === w.name || unqualified(alias) === unqualified(w.name ?? ''),
  );
}

function describe(type: AvroType): string {
  const named = (type as unknown as Named).name;
  return named ?? (isUnion(type) ? 'union' : type.typeName);
}

class Checker {
  // Recursive schemas (a linked list of records) would loop forever; a pair already being
  // compared is assumed compatible, as Java's SchemaCompatibility does.
  private readonly inProgress = new Set<string>();
  private readonly ids = new Map<AvroType, number>();

  private id(type: AvroType): number {
    let id = this.ids.get(type);
    if (id === undefined) {
      id = this.ids.size;
      this.ids.set(type, id);
    }
    return id;
  }

  check(reader: AvroType, writer: AvroType, location: string): Incompatibility[] {
    const key = `${this.id(reader)}:${this.id(writer)}`;
    if (this.inProgress.has(key)) return [];
    this.inProgress.add(key);
    try {
      return this.checkPair(reader, writer, location);
    } finally {
      this.inProgress.delete(key);
    }
  }

  private checkPair(reader: AvroType, writer: AvroType, location: string): Incompatibility[] {
    // A writer union: each branch the writer may have used must be readable.
    if (isUnion(writer)) {
      const out: Incompatibility[] = [];
      for (const branch of branches(writer)) {
        const problems = this.check(reader, branch, location);
        if (problems.length > 0) {
          out.push({
            kind: 'MISSING_UNION_BRANCH',
            location,
            description: `reader type ${describe(reader)} cannot read writer union branch ${describe(branch)}`,
          });
          out.push(...problems);
        }
      }
      return out;
    }
    if (reader.typeName === writer.typeName && !isUnion(reader))
      return this.checkSameKind(reader, writer, location);
    if (isUnion(reader)) {
      // Resolution picks the first reader branch that matches the writer's type.
      const fits = branches(reader).some((branch) => this.check(branch, writer, location).length === 0);
      return fits
        ? []
        : [
            {
              kind: 'MISSING_UNION_BRANCH',
              location,
              description: `reader union lacks a branch for writer type ${describe(writer)}`,
            },
          ];
    }
    if (PROMOTIONS[writer.typeName]?.includes(reader.typeName)) return [];
    return [
      {
        kind: 'TYPE_MISMATCH',
        location,
        description: `reader type ${describe(reader)} is not compatible with writer type ${describe(writer)}`,
      },
    ];
  }

  private checkSameKind(reader: AvroType, writer: AvroType, location: string): Incompatibility[] {
    switch (reader.typeName) {
      case 'record':
      case 'error':
        return this.checkRecord(reader, writer, location);
      case 'enum': {
        if (!namesMatch(reader, writer)) return [nameMismatch(reader, writer, location)];
        const readerSymbols = (reader as unknown as { symbols: string[] }).symbols;
        const readerDefault = (reader as unknown as { default?: string }).default;
        const writerSymbols = (writer as unknown as { symbols: string[] }).symbols;
        const missing = writerSymbols.filter((s) => !readerSymbols.includes(s));
        if (missing.length === 0 || readerDefault !== undefined) return [];
        return [
          {
            kind: 'MISSING_ENUM_SYMBOLS',
            location: `${location}/symbols`,
            description: `reader enum ${describe(reader)} lacks symbols [${missing.join(', ')}] and has no default`,
          },
        ];
      }
      case 'fixed': {
        if (!namesMatch(reader, writer)) return [nameMismatch(reader, writer, location)];
        const readerSize = (reader as unknown as { size: number }).size;
        const writerSize = (writer as unknown as { size: number }).size;
        if (readerSize === writerSize) return [];
        return [
          {
            kind: 'FIXED_SIZE_MISMATCH',
            location: `${location}/size`,
            description: `expected fixed size ${writerSize}, reader has ${readerSize}`,
          },
        ];
      }
      case 'array':
        return this.check(
          (reader as unknown as { itemsType: AvroType }).itemsType,
          (writer as unknown as { itemsType: AvroType }).itemsType,
          `${location}/items`,
        );
      case 'map':
        return this.check(
          (reader as unknown as { valuesType: AvroType }).valuesType,
          (writer as unknown as { valuesType: AvroType }).valuesType,
          `${location}/values`,
        );
      default:
        return []; // same primitive
    }
  }

  private checkRecord(reader: AvroType, writer: AvroType, location: string): Incompatibility[] {
    if (!namesMatch(reader, writer)) return [nameMismatch(reader, writer, location)];
    const readerFields = (reader as unknown as { fields: FieldLike[] }).fields;
    const writerFields = (writer as unknown as { fields: FieldLike[] }).fields;
    const out: Incompatibility[] = [];
    readerFields.forEach((field, index) => {
      const fieldLocation = `${location}/fields/${index}`;
      const names = [field.name, ...(field.aliases ?? [])];
      const source = writerFields.find((w) => names.includes(w.name));
      if (!source) {
        // A field the writer never wrote is filled from the reader's default; without one the
        // reader cannot produce a value (the book: "you can only add a field that has a default").
        if (field.defaultValue() === undefined) {
          out.push({
            kind: 'READER_FIELD_MISSING_DEFAULT_VALUE',
            location: fieldLocation,
            description: `field '${field.name}' is missing in the writer's schema and has no default value`,
          });
        }
        return;
      }
      out.push(...this.check(field.type, source.type, `${fieldLocation}/type`));
    });
    return out;
  }
}

function nameMismatch(reader: AvroType, writer: AvroType, location: string): Incompatibility {
  return {
    kind: 'NAME_MISMATCH',
    location: `${location}/name`,
    description: `expected name ${describe(writer)} (or an alias of it), reader has ${describe(reader)}`,
  };
}

/**
 * Everything that stops `reader` from decoding data written with `writer`; empty when it can.
 * Our rules first; if they find nothing but avsc's resolver still refuses, its reason is reported.
 */
export function readerWriterIncompatibilities(reader: AvroType, writer: AvroType): Incompatibility[] {
  const found = new Checker().check(reader, writer, '');
  if (found.length > 0) return found;
  try {
    reader.createResolver(writer, { ignoreNamespaces: true });
  } catch (err) {
    return [{ kind: 'RESOLVER_REFUSED', location: '', description: (err as Error).message }];
  }
  return [];
}

/** Formats an incompatibility the way Confluent's verbose answers do (one string per problem). */
export function formatIncompatibility(problem: Incompatibility, version?: number): string {
  const where = problem.location === '' ? '/' : problem.location;
  const against = version === undefined ? '' : `, oldSchemaVersion: ${version}`;
  return `{errorType:'${problem.kind}', description:'${problem.description}', location:'${where}'${against}}`;
}
