// `ddia schema migrate`: rewrite an Avro object container file from the writer's schema in its
// header to a reader schema registered in the schema registry. DDIA ch. 4 ("Avro ... the writer's
// schema and the reader's schema"): the file carries its writer's schema once, so a whole file
// can be translated record by record through schema resolution.
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { CommandError, type CommandOutput, fsyncDir, HttpClient } from '@ddia/common';
import avro from 'avsc';
import { formatIncompatibility, readerWriterIncompatibilities } from '../registry/avro-compatibility.js';
import { type AvroType, parseAvro } from '../registry/avro-schema.js';
import { diffSchemas } from './schema-diff.js';

/** What the command writes to: `ddia`'s output (common's CommandOutput) or any two streams. */
export type MigrateIo = Pick<CommandOutput, 'stdout' | 'stderr'>;

export const MIGRATE_USAGE = `usage: ddia schema migrate <file.avro> --registry URL --subject SUBJECT
         [--version N|latest] [--output FILE] [--dry-run]

Rewrites an Avro object container file from the writer's schema in its header to the reader
schema registered under SUBJECT/VERSION (default latest). Without --output the file is replaced
atomically. --dry-run prints what would change and writes nothing.
`;

/** Records shown before/after in a dry run. */
const EXAMPLES_MAX = 3;
/** Nested references followed when fetching a registered schema. */
const REFERENCE_DEPTH_MAX = 32;
/** How long to wait for the registry on each request. */
const REGISTRY_DEADLINE_MS = 10_000;

interface Registered {
  subject: string;
  version: number;
  id: number;
  type: AvroType;
}

interface VersionAnswer {
  subject: string;
  version: number;
  id: number;
  schema: string;
  references?: { name: string; subject: string; version: number }[];
}

async function fetchVersion(
  client: HttpClient,
  base: string,
  subject: string,
  version: string,
): Promise<VersionAnswer> {
  const url = `${base}/subjects/${encodeURIComponent(subject)}/versions/${encodeURIComponent(version)}`;
  const response = await client.request(url, {
    headers: { accept: 'application/vnd.schemaregistry.v1+json' },
  });
  if (response.status !== 200) {
    let message = response.text();
    try {
      message = response.json<{ message: string }>().message;
    } catch {}
    throw new CommandError(
      `registry answered ${response.status} for ${subject} version ${version}: ${message}`,
      1,
    );
  }
  return response.json<VersionAnswer>();
}

async function fetchReader(base: string, subject: string, version: string): Promise<Registered> {
  const client = new HttpClient({ deadlineMs: REGISTRY_DEADLINE_MS });
  try {
    const answer = await fetchVersion(client, base, subject, version);
    // Referenced schemas first (dependencies before dependents), as the registry parses them.
    const texts: string[] = [];
    const seen = new Set<string>();
    const visit = async (refs: VersionAnswer['references'], depth: number): Promise<void> => {
      if (depth > REFERENCE_DEPTH_MAX) throw new CommandError('schema references nest too deeply', 1);
      for (const ref of refs ?? []) {
        const key = `${ref.subject}\u0000${ref.version}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const referenced = await fetchVersion(client, base, ref.subject, String(ref.version));
        await visit(referenced.references, depth + 1);
        texts.push(referenced.schema);
      }
    };
    await visit(answer.references, 0);
    return {
      subject: answer.subject,
      version: answer.version,
      id: answer.id,
      type: parseAvro(answer.schema, texts).type,
    };
  } finally {
    await client.close();
  }
}

interface Header {
  writer: AvroType;
  codec: string;
}

function readHeader(path: string): Header {
  const header = avro.extractFileHeader(path, { decode: false }) as { meta: Record<string, Buffer> } | null;
  if (!header) throw new CommandError(`${path} is not an Avro object container file (bad magic)`, 1);
  const schemaText = header.meta['avro.schema']?.toString('utf8');
  if (!schemaText) throw new CommandError(`${path} has no avro.schema in its header`, 1);
  return {
    writer: avro.Type.forSchema(JSON.parse(schemaText) as avro.Schema),
    codec: header.meta['avro.codec']?.toString('utf8') || 'null',
  };
}

async function* records(path: string, reader?: AvroType): AsyncGenerator<unknown> {
  const decoder = avro.createFileDecoder(path, reader ? { readerSchema: reader } : {});
  for await (const record of decoder) yield record;
}

export async function runSchemaMigrate(argv: readonly string[], io: MigrateIo): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        registry: { type: 'string' },
        subject: { type: 'string' },
        version: { type: 'string', default: 'latest' },
        output: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (err) {
    io.stderr.write(`error: ${(err as Error).message}\n${MIGRATE_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout.write(MIGRATE_USAGE);
    return 0;
  }
  const input = positionals[0];
  const registry = values.registry as string | undefined;
  const subject = values.subject as string | undefined;
  if (positionals.length !== 1 || !input || !registry || !subject) {
    io.stderr.write(`error: need one input file, --registry and --subject\n${MIGRATE_USAGE}`);
    return 2;
  }
  try {
    return await migrate(io, {
      input,
      registry: registry.replace(/\/+$/, ''),
      subject,
      version: values.version as string,
      output: values.output as string | undefined,
      dryRun: values['dry-run'] as boolean,
    });
  } catch (err) {
    if (err instanceof CommandError) {
      io.stderr.write(`error: ${err.message}\n`);
      return err.exitCode;
    }
    io.stderr.write(`error: ${(err as Error).message}\n`);
    return 1;
  }
}

interface MigrateOptions {
  input: string;
  registry: string;
  subject: string;
  version: string;
  output: string | undefined;
  dryRun: boolean;
}

async function migrate(io: MigrateIo, o: MigrateOptions): Promise<number> {
  try {
    await stat(o.input);
  } catch {
    throw new CommandError(`cannot read ${o.input}`, 1);
  }
  const { writer, codec } = readHeader(o.input);
  const reader = await fetchReader(o.registry, o.subject, o.version);
  const problems = readerWriterIncompatibilities(reader.type, writer);
  io.stdout.write(
    `input:  ${o.input} (codec ${codec})\nwriter: ${describe(writer)} (from the file header)\n` +
      `reader: ${describe(reader.type)} (${reader.subject} version ${reader.version}, id ${reader.id})\n`,
  );
  if (problems.length > 0) {
    io.stderr.write(
      `error: the reader schema cannot read this file:\n${problems.map((p) => `  ${formatIncompatibility(p)}`).join('\n')}\n`,
    );
    return 1;
  }
  const changes = diffSchemas(writer, reader.type);
  io.stdout.write(
    changes.length === 0
      ? 'changes: none (the schemas resolve to the same records)\n'
      : `changes:\n${changes.map((c) => `  ${c.kind.padEnd(12)} ${c.path}: ${c.description}`).join('\n')}\n`,
  );

  if (o.dryRun) {
    let count = 0;
    const before: unknown[] = [];
    for await (const record of records(o.input)) {
      if (count < EXAMPLES_MAX) before.push(record);
      count++;
    }
    let i = 0;
    for await (const after of records(o.input, reader.type)) {
      if (i >= before.length) break;
      io.stdout.write(
        `record ${i + 1}:\n  before ${JSON.stringify(before[i])}\n  after  ${JSON.stringify(after)}\n`,
      );
      i++;
    }
    io.stdout.write(`dry run: ${count} records would be rewritten; nothing written\n`);
    return 0;
  }

  const target = o.output ?? o.input;
  // Write beside the target and rename, so a crash leaves either the old or the new file.
  const temporary = join(dirname(target), `.${basename(target)}.migrate-${process.pid}.tmp`);
  let count = 0;
  try {
    const encoder = new avro.streams.BlockEncoder(reader.type, { codec });
    const file = createWriteStream(temporary);
    const done = pipeline(encoder, file);
    for await (const record of records(o.input, reader.type)) {
      if (!encoder.write(record)) await once(encoder, 'drain');
      count++;
    }
    encoder.end();
    await done;
    const handle = await open(temporary, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, target);
    await fsyncDir(dirname(target));
  } catch (err) {
    await rm(temporary, { force: true });
    throw err;
  }
  io.stdout.write(`wrote ${count} records to ${target} with the reader schema\n`);
  return 0;
}

function describe(type: AvroType): string {
  const name = (type as unknown as { name?: string }).name ?? type.typeName;
  const fields = (type as unknown as { fields?: unknown[] }).fields;
  return fields ? `${name} (${fields.length} fields)` : name;
}
