// The schema registry's domain: subjects, versions, global ids, compatibility and modes,
// persisted through an abstract-level store. No HTTP here; `server.ts` maps routes onto it.
//
// State lives in memory (schemas are small and few) and every change is written to the store
// in one atomic batch before the caller hears about it, so a restart replays exactly what
// clients were told. All mutations run one at a time through `serial()`: two concurrent
// registrations of the same schema therefore see each other and get one id.
import type { Store } from '@ddia/common';
import { assert } from '@ddia/common';
import { formatIncompatibility } from './avro-compatibility.js';
import { type AvroType, parseAvro } from './avro-schema.js';
import {
  type CompatibilityLevel,
  type CompatibilityProblem,
  checkCompatibility,
  DEFAULT_COMPATIBILITY,
  DEFAULT_MODE,
  type Mode,
  type PreviousVersion,
} from './compatibility.js';
import { RegistryError, type RegistryErrorSpec, RegistryErrors } from './errors.js';

/** Largest version and id a client may name: Confluent's limit, a positive 32-bit int. */
export const VERSION_MAX = 2 ** 31 - 1;
/** Subject names are keys in the store and in URLs; bound them. */
export const SUBJECT_BYTES_MAX = 1024;
/** Schemas a single schema may reference, directly or transitively. */
export const REFERENCES_MAX = 256;

/** Parsed schemas remembered by their exact text, so lookups of a known schema skip parsing. */
export const PARSE_CACHE_ENTRIES_MAX = 1024;

export const SCHEMA_TYPES = ['AVRO'] as const;

export interface SchemaReference {
  name: string;
  subject: string;
  version: number;
}

export interface StoredSchema {
  id: number;
  schemaType: 'AVRO';
  /** Canonical JSON text of the schema. */
  schema: string;
  references: SchemaReference[];
}

interface VersionEntry {
  version: number;
  id: number;
  deleted: boolean;
}

export interface SubjectVersion {
  subject: string;
  version: number;
  id: number;
  schemaType: 'AVRO';
  schema: string;
  references: SchemaReference[];
  deleted: boolean;
}

export interface RegisterRequest {
  schema: unknown;
  schemaType?: unknown;
  references?: unknown;
  /** Only in IMPORT mode: keep the id and version the schema had elsewhere. */
  id?: unknown;
  version?: unknown;
}

/** `latest`, `-1`, or a positive integer: Confluent's version grammar. */
export type VersionSpec = number | 'latest';

export function parseVersion(text: string): VersionSpec {
  if (text === 'latest' || text === '-1') return 'latest';
  if (/^[0-9]{1,10}$/.test(text)) {
    const n = Number(text);
    if (n >= 1 && n <= VERSION_MAX) return n;
  }
  throw new RegistryError(
    RegistryErrors.invalidVersion,
    `The specified version '${text}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string "latest"`,
  );
}

const KEY = {
  schema: (id: number) => `schema/${String(id).padStart(10, '0')}`,
  version: (subject: string, version: number) =>
    `version/${encodeURIComponent(subject)}/${String(version).padStart(10, '0')}`,
  config: (subject: string | null) =>
    subject === null ? 'config-global' : `config/${encodeURIComponent(subject)}`,
  mode: (subject: string | null) =>
    subject === null ? 'mode-global' : `mode/${encodeURIComponent(subject)}`,
  nextId: 'meta/next-id',
};

type BatchOp = { type: 'put'; key: string; value: unknown } | { type: 'del'; key: string };
// abstract-level's batch() is overloaded (array form and chained form); we use the array form.
interface BatchStore {
  batch(ops: BatchOp[], options: { sync: boolean }): Promise<void>;
}

export class SchemaRegistry {
  private readonly schemas = new Map<number, StoredSchema>();
  private readonly idByKey = new Map<string, number>();
  private readonly subjects = new Map<string, Map<number, VersionEntry>>();
  private readonly configs = new Map<string, CompatibilityLevel>();
  private readonly modes = new Map<string, Mode>();
  private globalConfig: CompatibilityLevel = DEFAULT_COMPATIBILITY;
  private globalMode: Mode = DEFAULT_MODE;
  private nextId = 1;
  private readonly parsed = new Map<number, AvroType>();
  private queue: Promise<unknown> = Promise.resolve();
  // Insertion-ordered, so the first key is the oldest; only schemas without references (their
  // parse does not depend on other subjects' state).
  private readonly parseCache = new Map<string, { canonical: string; type: AvroType }>();

  private constructor(private readonly store: Store) {}

  /** Loads every subject, version, schema and setting from `store` (opened with json values). */
  static async open(store: Store): Promise<SchemaRegistry> {
    const registry = new SchemaRegistry(store);
    for await (const [key, value] of store.iterator()) registry.load(String(key), value);
    registry.checkInvariants();
    return registry;
  }

  private load(key: string, value: unknown): void {
    const [kind, a, b] = key.split('/');
    if (kind === 'schema') {
      const schema = value as StoredSchema;
      this.schemas.set(schema.id, schema);
      this.idByKey.set(schemaKey(schema.schemaType, schema.schema, schema.references), schema.id);
    } else if (kind === 'version') {
      const entry = value as VersionEntry;
      const subject = decodeURIComponent(a);
      assert(entry.version === Number(b), `store key ${key} holds version ${entry.version}`);
      this.versionsOf(subject, true).set(entry.version, entry);
    } else if (kind === 'config') this.configs.set(decodeURIComponent(a), value as CompatibilityLevel);
    else if (kind === 'config-global') this.globalConfig = value as CompatibilityLevel;
    else if (kind === 'mode') this.modes.set(decodeURIComponent(a), value as Mode);
    else if (kind === 'mode-global') this.globalMode = value as Mode;
    else if (key === KEY.nextId) this.nextId = value as number;
    else throw new Error(`schema registry store holds an unknown key '${key}'`);
  }

  private checkInvariants(): void {
    for (const [subject, versions] of this.subjects) {
      for (const entry of versions.values()) {
        assert(
          this.schemas.has(entry.id),
          `${subject} v${entry.version} points at missing schema ${entry.id}`,
        );
      }
    }
    for (const id of this.schemas.keys())
      assert(id < this.nextId, `schema id ${id} >= next id ${this.nextId}`);
  }

  async close(): Promise<void> {
    await this.queue.catch(() => {});
  }

  /** Runs mutations one at a time, in arrival order. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  private async commit(ops: BatchOp[]): Promise<void> {
    if (ops.length === 0) return;
    try {
      // sync: the answer tells a producer it may use this id; it must survive a crash.
      await (this.store as unknown as BatchStore).batch(ops, { sync: true });
    } catch (err) {
      throw new RegistryError(
        RegistryErrors.storeError,
        `Error in the backend data store: ${(err as Error).message}`,
      );
    }
  }

  // ---- reads ----

  private versionsOf(subject: string, create = false): Map<number, VersionEntry> {
    let versions = this.subjects.get(subject);
    if (!versions) {
      versions = new Map();
      if (create) this.subjects.set(subject, versions);
    }
    return versions;
  }

  private liveVersions(subject: string): VersionEntry[] {
    return [...this.versionsOf(subject).values()]
      .filter((v) => !v.deleted)
      .sort((x, y) => x.version - y.version);
  }

  private allVersions(subject: string): VersionEntry[] {
    return [...this.versionsOf(subject).values()].sort((x, y) => x.version - y.version);
  }

  listSubjects(includeDeleted = false): string[] {
    return [...this.subjects.keys()]
      .filter((s) => (includeDeleted ? this.allVersions(s).length > 0 : this.liveVersions(s).length > 0))
      .sort();
  }

  listVersions(subject: string, includeDeleted = false): number[] {
    const versions = includeDeleted ? this.allVersions(subject) : this.liveVersions(subject);
    if (versions.length === 0) throw subjectNotFound(subject);
    return versions.map((v) => v.version);
  }

  private entry(subject: string, spec: VersionSpec, includeDeleted: boolean): VersionEntry {
    const versions = includeDeleted ? this.allVersions(subject) : this.liveVersions(subject);
    if (versions.length === 0) throw subjectNotFound(subject);
    const found =
      spec === 'latest' ? versions[versions.length - 1] : versions.find((v) => v.version === spec);
    if (!found) throw versionNotFound(subject, spec);
    return found;
  }

  getVersion(subject: string, spec: VersionSpec, includeDeleted = false): SubjectVersion {
    const entry = this.entry(subject, spec, includeDeleted);
    const schema = this.schemas.get(entry.id);
    assert(schema !== undefined, `version ${entry.version} of ${subject} without schema`);
    return {
      subject,
      version: entry.version,
      id: entry.id,
      schemaType: schema.schemaType,
      schema: schema.schema,
      references: schema.references,
      deleted: entry.deleted,
    };
  }

  getSchemaById(id: number): StoredSchema {
    const schema = this.schemas.get(id);
    if (!schema) throw new RegistryError(RegistryErrors.schemaNotFound, `Schema ${id} not found`);
    return schema;
  }

  /** Every (subject, version) that uses schema `id`. */
  versionsOfId(id: number, includeDeleted = false): { subject: string; version: number }[] {
    this.getSchemaById(id);
    const out: { subject: string; version: number }[] = [];
    for (const subject of [...this.subjects.keys()].sort()) {
      for (const v of includeDeleted ? this.allVersions(subject) : this.liveVersions(subject)) {
        if (v.id === id) out.push({ subject, version: v.version });
      }
    }
    return out;
  }

  /** Ids of schemas whose references name this subject version. */
  referencedBy(subject: string, spec: VersionSpec): number[] {
    const entry = this.entry(subject, spec, false);
    return [...this.schemas.values()]
      .filter((s) => s.references.some((r) => r.subject === subject && r.version === entry.version))
      .filter((s) => this.isInUse(s.id))
      .map((s) => s.id)
      .sort((a, b) => a - b);
  }

  private isInUse(id: number): boolean {
    for (const versions of this.subjects.values())
      for (const v of versions.values()) if (v.id === id) return true;
    return false;
  }

  /** The parsed avsc type of a stored schema, with its references resolved. */
  typeOf(id: number): AvroType {
    let type = this.parsed.get(id);
    if (!type) {
      const schema = this.getSchemaById(id);
      type = parseAvro(schema.schema, this.referencedTexts(schema.references)).type;
      this.parsed.set(id, type);
    }
    return type;
  }

  // ---- schema input ----

  private validateSubject(subject: string): void {
    if (
      subject.length === 0 ||
      Buffer.byteLength(subject) > SUBJECT_BYTES_MAX ||
      /[\u0000-\u001f]/.test(subject)
    ) {
      throw new RegistryError(
        RegistryErrors.invalidSubject,
        `Invalid subject: must be 1 to ${SUBJECT_BYTES_MAX} bytes without control characters`,
      );
    }
  }

  private parseReferences(raw: unknown): SchemaReference[] {
    if (raw === undefined || raw === null) return [];
    if (!Array.isArray(raw)) throw invalidSchema('references must be an array');
    if (raw.length > REFERENCES_MAX) throw invalidSchema(`more than ${REFERENCES_MAX} references`);
    return raw.map((r) => {
      const ref = r as Record<string, unknown>;
      if (typeof ref?.name !== 'string' || typeof ref.subject !== 'string') {
        throw invalidSchema('each reference needs a string name and subject');
      }
      const version = typeof ref.version === 'number' ? ref.version : Number.NaN;
      if (!Number.isInteger(version) || (version < 1 && version !== -1) || version > VERSION_MAX) {
        throw invalidSchema(`reference ${ref.name} has an invalid version`);
      }
      // -1 means "latest" when registering; we pin it so the stored schema never drifts.
      const pinned = version === -1 ? this.latestLiveVersion(ref.subject, ref.name) : version;
      return { name: ref.name, subject: ref.subject, version: pinned };
    });
  }

  private latestLiveVersion(subject: string, name: string): number {
    const live = this.liveVersions(subject);
    if (live.length === 0)
      throw invalidSchema(`reference ${name} names subject '${subject}', which has no versions`);
    return live[live.length - 1].version;
  }

  /** Canonical texts of the referenced schemas, dependencies first, each once. */
  private referencedTexts(references: readonly SchemaReference[]): string[] {
    const out: string[] = [];
    const seen = new Set<string>();
    const visit = (refs: readonly SchemaReference[], depth: number) => {
      if (depth > REFERENCES_MAX) throw invalidSchema('references nest too deeply (a cycle?)');
      for (const ref of refs) {
        const key = `${ref.subject}\u0000${ref.version}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const entry = this.versionsOf(ref.subject).get(ref.version);
        if (!entry) {
          throw invalidSchema(
            `reference ${ref.name} names ${ref.subject} version ${ref.version}, which does not exist`,
          );
        }
        const schema = this.schemas.get(entry.id);
        assert(schema !== undefined, 'version without schema');
        visit(schema.references, depth + 1);
        out.push(schema.schema);
      }
      if (seen.size > REFERENCES_MAX) throw invalidSchema(`more than ${REFERENCES_MAX} references`);
    };
    visit(references, 0);
    return out;
  }

  private parseInput(request: RegisterRequest): {
    canonical: string;
    type: AvroType;
    references: SchemaReference[];
  } {
    const schemaType = request.schemaType ?? 'AVRO';
    if (
      typeof schemaType !== 'string' ||
      !(SCHEMA_TYPES as readonly string[]).includes(schemaType.toUpperCase())
    ) {
      throw new RegistryError(
        RegistryErrors.invalidSchema,
        `Invalid schema type ${String(schemaType)}: this registry supports ${SCHEMA_TYPES.join(', ')}`,
      );
    }
    if (typeof request.schema !== 'string' || request.schema.trim() === '') {
      throw new RegistryError(RegistryErrors.invalidSchema, 'Empty schema: the body needs a "schema" string');
    }
    const references = this.parseReferences(request.references);
    if (references.length === 0) {
      const cached = this.parseCache.get(request.schema);
      if (cached) return { ...cached, references };
    }
    const { type, canonical } = parseAvro(request.schema, this.referencedTexts(references));
    if (references.length === 0) {
      if (this.parseCache.size >= PARSE_CACHE_ENTRIES_MAX) {
        this.parseCache.delete(this.parseCache.keys().next().value as string);
      }
      this.parseCache.set(request.schema, { canonical, type });
    }
    return { canonical, type, references };
  }

  // ---- registration ----

  /** Registers `request` under `subject`; returns the schema's global id (existing or new). */
  register(subject: string, request: RegisterRequest): Promise<{ id: number; version: number }> {
    return this.serial(async () => {
      this.validateSubject(subject);
      const mode = this.effectiveMode(subject);
      if (mode === 'READONLY') throw readOnly(subject);
      const { canonical, type, references } = this.parseInput(request);
      const key = schemaKey('AVRO', canonical, references);
      const existingId = this.idByKey.get(key);
      const importing = request.id !== undefined && request.id !== null;
      if (importing && mode !== 'IMPORT') {
        throw new RegistryError(
          RegistryErrors.operationNotPermitted,
          `Overwrite new schema with id ${String(request.id)} is not permitted: the subject is not in IMPORT mode`,
        );
      }
      // The same schema already live under this subject: registering is idempotent.
      const live = this.liveVersions(subject);
      const same = live.find((v) => v.id === existingId);
      if (same && !importing) return { id: same.id, version: same.version };

      if (mode !== 'IMPORT') {
        const level = this.effectiveCompatibility(subject);
        const previous: PreviousVersion[] = live.map((v) => ({
          version: v.version,
          type: this.typeOf(v.id),
        }));
        const problems = checkCompatibility(level, type, previous);
        if (problems.length > 0) throw incompatible(subject, level, problems);
      }

      const all = this.allVersions(subject);
      let id = existingId ?? this.nextId;
      let version = all.length === 0 ? 1 : all[all.length - 1].version + 1;
      if (importing) {
        id = positiveInt(request.id, 'id', RegistryErrors.invalidSchema);
        version = positiveInt(request.version, 'version', RegistryErrors.invalidVersion);
        const holder = this.schemas.get(id);
        if (holder && schemaKey(holder.schemaType, holder.schema, holder.references) !== key) {
          throw new RegistryError(
            RegistryErrors.idDoesNotMatch,
            `Overwrite new schema with id ${id} is not permitted: id ${id} holds a different schema`,
          );
        }
        if (existingId !== undefined && existingId !== id) {
          throw new RegistryError(
            RegistryErrors.idDoesNotMatch,
            `Schema already registered with id ${existingId}`,
          );
        }
        if (this.versionsOf(subject).has(version)) {
          throw new RegistryError(
            RegistryErrors.invalidVersion,
            `Version ${version} of ${subject} already exists`,
          );
        }
      }
      const ops: BatchOp[] = [];
      const isNewSchema = !this.schemas.has(id);
      const stored: StoredSchema = { id, schemaType: 'AVRO', schema: canonical, references };
      if (isNewSchema) ops.push({ type: 'put', key: KEY.schema(id), value: stored });
      const nextId = Math.max(this.nextId, id + 1);
      if (nextId !== this.nextId) ops.push({ type: 'put', key: KEY.nextId, value: nextId });
      const entry: VersionEntry = { version, id, deleted: false };
      ops.push({ type: 'put', key: KEY.version(subject, version), value: entry });
      await this.commit(ops);
      if (isNewSchema) {
        this.schemas.set(id, stored);
        this.idByKey.set(key, id);
        this.parsed.set(id, type);
      }
      this.nextId = nextId;
      this.versionsOf(subject, true).set(version, entry);
      return { id, version };
    });
  }

  /** Finds `request`'s schema among the subject's versions (POST /subjects/:subject). */
  lookup(subject: string, request: RegisterRequest, includeDeleted = false): SubjectVersion {
    const versions = includeDeleted ? this.allVersions(subject) : this.liveVersions(subject);
    if (versions.length === 0) throw subjectNotFound(subject);
    const { canonical, references } = this.parseInput(request);
    const id = this.idByKey.get(schemaKey('AVRO', canonical, references));
    const match = [...versions].reverse().find((v) => v.id === id);
    if (!match) throw new RegistryError(RegistryErrors.schemaNotFound, 'Schema not found');
    return this.getVersion(subject, match.version, true);
  }

  /**
   * Checks `request` against one version (or, with `spec` undefined, against the versions the
   * subject's level names). A subject with no versions accepts anything when no version is named.
   */
  testCompatibility(subject: string, spec: VersionSpec | undefined, request: RegisterRequest): string[] {
    const { type } = this.parseInput(request);
    const level = this.effectiveCompatibility(subject);
    let previous: PreviousVersion[];
    if (spec === undefined) {
      previous = this.liveVersions(subject).map((v) => ({ version: v.version, type: this.typeOf(v.id) }));
    } else {
      const entry = this.entry(subject, spec, false);
      previous = [{ version: entry.version, type: this.typeOf(entry.id) }];
    }
    return checkCompatibility(level, type, previous).map((p) => describeProblem(p));
  }

  // ---- deletion ----

  private assertNotReferenced(subject: string, versions: readonly number[]): void {
    for (const schema of this.schemas.values()) {
      if (!this.isInUse(schema.id)) continue;
      const ref = schema.references.find((r) => r.subject === subject && versions.includes(r.version));
      if (ref) {
        throw new RegistryError(
          RegistryErrors.referenceExists,
          `One or more references exist to the schema {subject=${subject}, version=${ref.version}}: schema ${schema.id} uses it`,
        );
      }
    }
  }

  deleteSubject(subject: string, permanent: boolean): Promise<number[]> {
    return this.serial(async () => {
      if (this.effectiveMode(subject) === 'READONLY') throw readOnly(subject);
      const all = this.allVersions(subject);
      if (all.length === 0) throw subjectNotFound(subject);
      const live = all.filter((v) => !v.deleted);
      if (!permanent) {
        if (live.length === 0) {
          throw new RegistryError(
            RegistryErrors.subjectSoftDeleted,
            `Subject '${subject}' was soft deleted. Set permanent=true to delete permanently`,
          );
        }
        this.assertNotReferenced(
          subject,
          live.map((v) => v.version),
        );
        const updated = live.map((v) => ({ ...v, deleted: true }));
        await this.commit(
          updated.map((v) => ({ type: 'put', key: KEY.version(subject, v.version), value: v })),
        );
        for (const v of updated) this.versionsOf(subject).set(v.version, v);
        return live.map((v) => v.version);
      }
      if (live.length > 0) {
        throw new RegistryError(
          RegistryErrors.subjectNotSoftDeleted,
          `Subject '${subject}' was not deleted first before being permanently deleted`,
        );
      }
      this.assertNotReferenced(
        subject,
        all.map((v) => v.version),
      );
      const ops: BatchOp[] = all.map((v) => ({ type: 'del', key: KEY.version(subject, v.version) }));
      // A hard-deleted subject forgets its own settings too, as Confluent does.
      if (this.configs.has(subject)) ops.push({ type: 'del', key: KEY.config(subject) });
      if (this.modes.has(subject)) ops.push({ type: 'del', key: KEY.mode(subject) });
      const orphans = this.orphansAfter(subject, all);
      for (const id of orphans) ops.push({ type: 'del', key: KEY.schema(id) });
      await this.commit(ops);
      this.subjects.delete(subject);
      this.configs.delete(subject);
      this.modes.delete(subject);
      this.forget(orphans);
      return all.map((v) => v.version);
    });
  }

  deleteVersion(subject: string, spec: VersionSpec, permanent: boolean): Promise<number> {
    return this.serial(async () => {
      if (this.effectiveMode(subject) === 'READONLY') throw readOnly(subject);
      const all = this.allVersions(subject);
      if (all.length === 0) throw subjectNotFound(subject);
      if (!permanent) {
        const soft = spec === 'latest' ? undefined : all.find((v) => v.version === spec && v.deleted);
        if (soft) throw versionSoftDeleted(subject, soft.version);
        const entry = this.entry(subject, spec, false);
        this.assertNotReferenced(subject, [entry.version]);
        const updated = { ...entry, deleted: true };
        await this.commit([{ type: 'put', key: KEY.version(subject, entry.version), value: updated }]);
        this.versionsOf(subject).set(entry.version, updated);
        return entry.version;
      }
      const entry =
        spec === 'latest' ? all[all.length - 1] : (all.find((v) => v.version === spec) ?? undefined);
      if (!entry) throw versionNotFound(subject, spec);
      if (!entry.deleted) {
        throw new RegistryError(
          RegistryErrors.versionNotSoftDeleted,
          `Subject '${subject}' Version ${entry.version} was not deleted first before being permanently deleted`,
        );
      }
      this.assertNotReferenced(subject, [entry.version]);
      const ops: BatchOp[] = [{ type: 'del', key: KEY.version(subject, entry.version) }];
      const orphans = this.orphansAfter(subject, [entry]);
      for (const id of orphans) ops.push({ type: 'del', key: KEY.schema(id) });
      await this.commit(ops);
      this.versionsOf(subject).delete(entry.version);
      if (this.versionsOf(subject).size === 0) this.subjects.delete(subject);
      this.forget(orphans);
      return entry.version;
    });
  }

  /** Schema ids no version would use any more once `removed` versions of `subject` are gone. */
  private orphansAfter(subject: string, removed: readonly VersionEntry[]): number[] {
    const candidates = new Set(removed.map((v) => v.id));
    for (const [s, versions] of this.subjects) {
      for (const v of versions.values()) {
        if (s === subject && removed.some((r) => r.version === v.version)) continue;
        candidates.delete(v.id);
      }
    }
    return [...candidates];
  }

  private forget(ids: readonly number[]): void {
    for (const id of ids) {
      const schema = this.schemas.get(id);
      if (!schema) continue;
      this.schemas.delete(id);
      this.parsed.delete(id);
      this.idByKey.delete(schemaKey(schema.schemaType, schema.schema, schema.references));
    }
  }

  // ---- config and mode ----

  effectiveCompatibility(subject: string): CompatibilityLevel {
    return this.configs.get(subject) ?? this.globalConfig;
  }

  getConfig(subject: string | null, defaultToGlobal = false): CompatibilityLevel {
    return subjectSetting(
      this.configs,
      this.globalConfig,
      subject,
      defaultToGlobal,
      RegistryErrors.subjectCompatibilityNotConfigured,
      'compatibility',
    );
  }

  setConfig(subject: string | null, level: CompatibilityLevel): Promise<CompatibilityLevel> {
    return this.serial(async () => {
      if (subject !== null) this.validateSubject(subject);
      await this.commit([{ type: 'put', key: KEY.config(subject), value: level }]);
      if (subject === null) this.globalConfig = level;
      else this.configs.set(subject, level);
      return level;
    });
  }

  /** Removes a subject's own level (or resets the global one); returns the level it had. */
  deleteConfig(subject: string | null): Promise<CompatibilityLevel> {
    return this.serial(async () => {
      if (subject === null) {
        const previous = this.globalConfig;
        await this.commit([{ type: 'del', key: KEY.config(null) }]);
        this.globalConfig = DEFAULT_COMPATIBILITY;
        return previous;
      }
      const previous = this.getConfig(subject);
      await this.commit([{ type: 'del', key: KEY.config(subject) }]);
      this.configs.delete(subject);
      return previous;
    });
  }

  effectiveMode(subject: string): Mode {
    return this.modes.get(subject) ?? this.globalMode;
  }

  getMode(subject: string | null, defaultToGlobal = false): Mode {
    return subjectSetting(
      this.modes,
      this.globalMode,
      subject,
      defaultToGlobal,
      RegistryErrors.subjectModeNotConfigured,
      'mode',
    );
  }

  setMode(subject: string | null, mode: Mode, force = false): Promise<Mode> {
    return this.serial(async () => {
      if (subject !== null) this.validateSubject(subject);
      // IMPORT keeps ids from another registry; mixing them with ids we allocated could clash.
      if (mode === 'IMPORT' && !force) {
        const occupied =
          subject === null ? this.listSubjects(true).length > 0 : this.allVersions(subject).length > 0;
        if (occupied) {
          throw new RegistryError(
            RegistryErrors.operationNotPermitted,
            'Cannot import since found existing subjects (use force=true to override)',
          );
        }
      }
      await this.commit([{ type: 'put', key: KEY.mode(subject), value: mode }]);
      if (subject === null) this.globalMode = mode;
      else this.modes.set(subject, mode);
      return mode;
    });
  }

  deleteMode(subject: string): Promise<Mode> {
    return this.serial(async () => {
      const previous = this.getMode(subject);
      await this.commit([{ type: 'del', key: KEY.mode(subject) }]);
      this.modes.delete(subject);
      return previous;
    });
  }
}

function schemaKey(schemaType: string, canonical: string, references: readonly SchemaReference[]): string {
  return `${schemaType}\n${canonical}\n${JSON.stringify(references.map((r) => [r.name, r.subject, r.version]))}`;
}

function positiveInt(value: unknown, what: string, spec: { errorCode: number; status: number }): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > VERSION_MAX) {
    throw new RegistryError(spec, `${what} must be an integer between 1 and 2^31-1`);
  }
  return value;
}

function invalidSchema(detail: string): RegistryError {
  return new RegistryError(RegistryErrors.invalidSchema, `Invalid schema: ${detail}`);
}

function subjectNotFound(subject: string): RegistryError {
  return new RegistryError(RegistryErrors.subjectNotFound, `Subject '${subject}' not found.`);
}

function versionNotFound(subject: string, spec: VersionSpec): RegistryError {
  return new RegistryError(
    RegistryErrors.versionNotFound,
    `Version ${spec} not found for subject '${subject}'.`,
  );
}

function versionSoftDeleted(subject: string, version: number): RegistryError {
  return new RegistryError(
    RegistryErrors.versionSoftDeleted,
    `Subject '${subject}' Version ${version} was soft deleted. Set permanent=true to delete permanently`,
  );
}

function readOnly(subject: string): RegistryError {
  return new RegistryError(RegistryErrors.operationNotPermitted, `Subject ${subject} is in read-only mode`);
}

function describeProblem(p: CompatibilityProblem): string {
  const role = p.newSchemaRole === 'reader' ? 'new schema reading old data' : 'old schema reading new data';
  return `${formatIncompatibility(p, p.version)} (${role})`;
}

function incompatible(
  subject: string,
  level: CompatibilityLevel,
  problems: CompatibilityProblem[],
): RegistryError {
  return new RegistryError(
    RegistryErrors.incompatibleSchema,
    `Schema being registered is incompatible with an earlier schema for subject "${subject}" under ${level}, details: [${problems
      .map(describeProblem)
      .join(', ')}]`,
  );
}

/**
 * A subject's own compatibility level or mode: the global one for `subject === null` or when the
 * caller asks to fall back to it, else 404 when the subject has none of its own.
 */
function subjectSetting<T>(
  own: ReadonlyMap<string, T>,
  global: T,
  subject: string | null,
  defaultToGlobal: boolean,
  missing: RegistryErrorSpec,
  what: string,
): T {
  if (subject === null) return global;
  const setting = own.get(subject);
  if (setting) return setting;
  if (defaultToGlobal) return global;
  throw new RegistryError(missing, `Subject '${subject}' does not have subject-level ${what} configured`);
}
