// What changes when data written with one Avro schema is read with another: the human-readable
// side of schema resolution, for `ddia schema migrate --dry-run`.
import type { AvroType } from '../registry/avro-schema.js';

export interface SchemaChange {
  path: string;
  kind: 'added' | 'removed' | 'renamed' | 'promoted' | 'retyped' | 'enum-symbols';
  description: string;
}

interface FieldLike {
  name: string;
  type: AvroType;
  aliases: string[];
  defaultValue(): unknown;
}

function label(type: AvroType): string {
  const named = (type as unknown as { name?: string }).name;
  if (named) return named;
  if (type.typeName.startsWith('union')) {
    return `[${(type as unknown as { types: AvroType[] }).types.map(label).join(', ')}]`;
  }
  if (type.typeName === 'array')
    return `array<${label((type as unknown as { itemsType: AvroType }).itemsType)}>`;
  if (type.typeName === 'map')
    return `map<${label((type as unknown as { valuesType: AvroType }).valuesType)}>`;
  return type.typeName;
}

/** Lists differences between `writer` and `reader`, recursing into records and enums. */
export function diffSchemas(writer: AvroType, reader: AvroType, path = ''): SchemaChange[] {
  const out: SchemaChange[] = [];
  const here = path === '' ? '/' : path;
  if (writer.typeName === 'record' && reader.typeName === 'record') {
    const wFields = (writer as unknown as { fields: FieldLike[] }).fields;
    const rFields = (reader as unknown as { fields: FieldLike[] }).fields;
    const used = new Set<string>();
    for (const rf of rFields) {
      const byName = wFields.find((w) => w.name === rf.name);
      const byAlias = byName ? undefined : wFields.find((w) => (rf.aliases ?? []).includes(w.name));
      const source = byName ?? byAlias;
      const fieldPath = `${path}/${rf.name}`;
      if (!source) {
        out.push({
          path: fieldPath,
          kind: 'added',
          description: `new field ${rf.name}: ${label(rf.type)}, filled with default ${JSON.stringify(rf.defaultValue())}`,
        });
        continue;
      }
      used.add(source.name);
      if (byAlias) {
        out.push({
          path: fieldPath,
          kind: 'renamed',
          description: `field ${source.name} renamed to ${rf.name} (alias)`,
        });
      }
      out.push(...diffSchemas(source.type, rf.type, fieldPath));
    }
    for (const wf of wFields) {
      if (!used.has(wf.name)) {
        out.push({ path: `${path}/${wf.name}`, kind: 'removed', description: `field ${wf.name} is dropped` });
      }
    }
    return out;
  }
  if (writer.typeName === 'enum' && reader.typeName === 'enum') {
    const w = (writer as unknown as { symbols: string[] }).symbols;
    const r = reader as unknown as { symbols: string[]; default?: string };
    const added = r.symbols.filter((s) => !w.includes(s));
    const removed = w.filter((s) => !r.symbols.includes(s));
    if (added.length > 0 || removed.length > 0) {
      out.push({
        path: here,
        kind: 'enum-symbols',
        description: `enum symbols${added.length ? ` added [${added.join(', ')}]` : ''}${removed.length ? ` removed [${removed.join(', ')}] (read as ${r.default ?? 'an error'})` : ''}`,
      });
    }
    return out;
  }
  if (label(writer) !== label(reader)) {
    const promoted = ['int', 'long', 'float', 'double', 'string', 'bytes'].includes(writer.typeName);
    out.push({
      path: here,
      kind: promoted && !reader.typeName.startsWith('union') ? 'promoted' : 'retyped',
      description: `${label(writer)} -> ${label(reader)}`,
    });
  }
  return out;
}
