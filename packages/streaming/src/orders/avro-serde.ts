// Avro values in Confluent's wire format, through the lab's schema registry
// (@ddia/schema-evolution): magic byte 0, the writer schema's registry id as a big-endian
// int32, then the Avro binary body. A producer registers its schema once (the registry
// answers the same id for the same schema, and refuses an incompatible one with 409); a
// consumer fetches the writer's schema by the id in each message (cached forever: ids are
// immutable) and resolves it against its own reader schema — DDIA ch. 4 "The writer's schema
// and the reader's schema". Reader and writer schemas differ during a rolling upgrade.
import { HttpClient, ProblemError } from '@ddia/common';
import avro from 'avsc';
import type { Serde } from '../streams/runner.js';

export const CONFLUENT_MAGIC = 0;
const HEADER_BYTES = 5;
const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

export class RegistryRefusedError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'RegistryRefusedError';
  }
}

/** A small client of the registry's REST API (the calls a serializer needs). */
export class RegistryClient {
  private readonly http = new HttpClient();
  private readonly byId = new Map<number, Promise<avro.Type>>();

  constructor(readonly baseUrl: string) {}

  private async call<T>(method: 'GET' | 'POST' | 'PUT', path: string, body?: object): Promise<T> {
    try {
      return await this.http.json<T>(`${this.baseUrl}${path}`, {
        method,
        headers: { 'content-type': CONTENT_TYPE },
        ...(body === undefined ? {} : { body }),
      });
    } catch (error) {
      if (error instanceof ProblemError) {
        let message = error.message;
        try {
          message = (JSON.parse(error.body.toString('utf8')) as { message: string }).message;
        } catch {}
        throw new RegistryRefusedError(error.status, message);
      }
      throw error;
    }
  }

  /** Registers (or finds) a schema under a subject; its id. 409: incompatible. */
  async register(subject: string, schema: object): Promise<number> {
    const r = await this.call<{ id: number }>('POST', `/subjects/${encodeURIComponent(subject)}/versions`, {
      schema: JSON.stringify(schema),
    });
    return r.id;
  }

  async setCompatibility(subject: string, level: string): Promise<void> {
    await this.call('PUT', `/config/${encodeURIComponent(subject)}`, { compatibility: level });
  }

  async versions(subject: string): Promise<number[]> {
    return this.call<number[]>('GET', `/subjects/${encodeURIComponent(subject)}/versions`);
  }

  /** The writer schema of an id, parsed (cached: an id never changes meaning). */
  schemaById(id: number): Promise<avro.Type> {
    let type = this.byId.get(id);
    if (!type) {
      type = this.call<{ schema: string }>('GET', `/schemas/ids/${id}`).then((r) =>
        avro.Type.forSchema(JSON.parse(r.schema)),
      );
      type.catch(() => this.byId.delete(id));
      this.byId.set(id, type);
    }
    return type;
  }

  async close(): Promise<void> {
    await this.http.close();
  }
}

export interface AvroSerdeOptions {
  registry: RegistryClient;
  subject: string;
  /** The schema this side writes with (producers) and reads into (consumers). */
  schema: object;
}

/** A StreamApp Serde: encodes with `schema`, decodes any registered writer into `schema`. */
export class ConfluentAvroSerde<V = unknown> implements Serde<V> {
  readonly type: avro.Type;
  private id: Promise<number> | null = null;
  private readonly resolvers = new Map<number, ReturnType<avro.Type['createResolver']>>();

  constructor(private readonly options: AvroSerdeOptions) {
    this.type = avro.Type.forSchema(options.schema as avro.Schema);
  }

  /** The writer id this serde encodes with (registers the schema on first use). */
  schemaId(): Promise<number> {
    if (!this.id) {
      this.id = this.options.registry.register(this.options.subject, this.options.schema);
      this.id.catch(() => {
        this.id = null;
      });
    }
    return this.id;
  }

  async encode(value: V): Promise<Buffer> {
    const id = await this.schemaId();
    const body = this.type.toBuffer(value);
    const header = Buffer.alloc(HEADER_BYTES);
    header.writeUInt8(CONFLUENT_MAGIC, 0);
    header.writeInt32BE(id, 1);
    return Buffer.concat([header, body]);
  }

  async decode(bytes: Buffer): Promise<V> {
    if (bytes.length < HEADER_BYTES || bytes[0] !== CONFLUENT_MAGIC)
      throw new Error('not a Confluent wire-format Avro value (magic byte 0 missing)');
    const id = bytes.readInt32BE(1);
    let resolver = this.resolvers.get(id);
    if (!resolver) {
      const writer = await this.options.registry.schemaById(id);
      resolver = this.type.createResolver(writer);
      this.resolvers.set(id, resolver);
    }
    return this.type.fromBuffer(bytes.subarray(HEADER_BYTES), resolver) as V;
  }
}
