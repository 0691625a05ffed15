// HTTP routes only: parse, validate sizes, call the engine, map errors. The engine is
// LsmLevel (src/lsm-level.ts); this file never touches its internals beyond stats().
import { CommonErrors, DdiaError, type Service, withRawBodies } from '@ddia/common';
import { Gauge } from 'prom-client';
import { Type } from 'typebox';
import type { LsmLevel } from './lsm-level.js';

export const KEY_BYTES_MAX_DEFAULT = 64 * 1024;
export const VALUE_BYTES_MAX_DEFAULT = 16 * 1024 * 1024;
export const SCAN_LIMIT_DEFAULT = 100;
export const SCAN_LIMIT_MAX = 10_000;
export const BATCH_OPS_MAX = 10_000;

export interface LsmRoutesOptions {
  keyBytesMax: number;
  valueBytesMax: number;
}

const ScanQuery = Type.Object({
  gt: Type.Optional(Type.String()),
  gte: Type.Optional(Type.String()),
  lt: Type.Optional(Type.String()),
  lte: Type.Optional(Type.String()),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: SCAN_LIMIT_MAX })),
  reverse: Type.Optional(Type.Boolean()),
  encoding: Type.Optional(Type.Union([Type.Literal('utf8'), Type.Literal('base64')])),
});

const BatchBody = Type.Object({
  ops: Type.Array(
    Type.Object({
      type: Type.Union([Type.Literal('put'), Type.Literal('del')]),
      key: Type.String({ minLength: 1 }),
      value: Type.Optional(Type.String()),
      encoding: Type.Optional(Type.Union([Type.Literal('utf8'), Type.Literal('base64')])),
    }),
    { minItems: 1, maxItems: BATCH_OPS_MAX },
  ),
  sync: Type.Optional(Type.Boolean()),
});

const SyncQuery = Type.Object({ sync: Type.Optional(Type.Boolean()) });

function keyFrom(raw: string | undefined, o: LsmRoutesOptions): Buffer {
  if (raw === undefined || raw === '')
    throw new DdiaError(CommonErrors.badRequest, 'the key must not be empty');
  const key = Buffer.from(raw, 'utf8');
  if (key.length > o.keyBytesMax) {
    throw new DdiaError(CommonErrors.payloadTooLarge, `key of ${key.length} bytes exceeds ${o.keyBytesMax}`);
  }
  return key;
}

export function registerLsmRoutes(service: Service, db: LsmLevel, o: LsmRoutesOptions): void {
  const { app } = service;
  registerMetrics(service, db);

  app.register(async (scope) => {
    withRawBodies(scope as never);
    scope.put('/kv/*', { schema: { querystring: SyncQuery } }, async (request, reply) => {
      const key = keyFrom((request.params as { '*': string })['*'], o);
      const body = request.body;
      const value = Buffer.isBuffer(body) ? body : Buffer.alloc(0);
      if (value.length > o.valueBytesMax) {
        throw new DdiaError(
          CommonErrors.payloadTooLarge,
          `value of ${value.length} bytes exceeds ${o.valueBytesMax}`,
        );
      }
      await db.put(key, value, {
        keyEncoding: 'buffer',
        valueEncoding: 'buffer',
        sync: (request.query as { sync?: boolean }).sync === true,
      } as object);
      return reply.code(204).send();
    });
  });

  app.get('/kv/*', {}, async (request, reply) => {
    const key = keyFrom((request.params as { '*': string })['*'], o);
    const value = await db.get(key, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    if (value === undefined)
      throw new DdiaError(
        CommonErrors.notFound,
        `no value under key ${JSON.stringify(key.toString('utf8'))}`,
      );
    return reply.type('application/octet-stream').send(value);
  });

  app.delete('/kv/*', { schema: { querystring: SyncQuery } }, async (request, reply) => {
    const key = keyFrom((request.params as { '*': string })['*'], o);
    await db.del(key, { keyEncoding: 'buffer', sync: request.query.sync === true } as object);
    return reply.code(204).send();
  });

  app.get('/kv', { schema: { querystring: ScanQuery } }, async (request) => {
    const q = request.query;
    const range: Record<string, unknown> = {
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
      limit: q.limit ?? SCAN_LIMIT_DEFAULT,
      reverse: q.reverse === true,
    };
    for (const bound of ['gt', 'gte', 'lt', 'lte'] as const) {
      if (q[bound] !== undefined) range[bound] = keyFrom(q[bound], o);
    }
    const encoding = q.encoding ?? 'utf8';
    const entries = (await db.iterator(range).all()) as [Buffer, Buffer][];
    return {
      entries: entries.map(([k, v]) => ({ key: k.toString('utf8'), value: v.toString(encoding) })),
      encoding,
    };
  });

  app.post('/batch', { schema: { body: BatchBody } }, async (request) => {
    const { ops, sync } = request.body;
    const batch = ops.map((op) => {
      const key = keyFrom(op.key, o);
      if (op.type === 'del') return { type: 'del' as const, key };
      if (op.value === undefined)
        throw new DdiaError(CommonErrors.validation, `put of ${JSON.stringify(op.key)} has no value`);
      const value = Buffer.from(op.value, op.encoding ?? 'utf8');
      if (value.length > o.valueBytesMax) {
        throw new DdiaError(
          CommonErrors.payloadTooLarge,
          `value of ${value.length} bytes exceeds ${o.valueBytesMax}`,
        );
      }
      return { type: 'put' as const, key, value };
    });
    await db.batch(batch, { keyEncoding: 'buffer', valueEncoding: 'buffer', sync: sync === true } as object);
    return { applied: batch.length };
  });

  app.post('/admin/compact', {}, async () => {
    const started = performance.now();
    await db.compact();
    return { tookMs: Math.round(performance.now() - started), stats: db.stats() };
  });

  app.get('/admin/stats', {}, async () => db.stats());
}

function registerMetrics(service: Service, db: LsmLevel): void {
  const registers = [service.registry];
  const statsOrNull = () => (db.status === 'open' ? db.stats() : null);
  new Gauge({
    name: 'lsm_level_bytes',
    help: 'Bytes of tables per level',
    labelNames: ['level'],
    registers,
    collect() {
      for (const l of statsOrNull()?.levels ?? []) this.set({ level: String(l.level) }, l.bytes);
    },
  });
  new Gauge({
    name: 'lsm_level_files',
    help: 'Tables per level',
    labelNames: ['level'],
    registers,
    collect() {
      for (const l of statsOrNull()?.levels ?? []) this.set({ level: String(l.level) }, l.files);
    },
  });
  const scalar = (
    name: string,
    help: string,
    pick: (s: NonNullable<ReturnType<typeof statsOrNull>>) => number,
  ) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        const s = statsOrNull();
        if (s) this.set(pick(s));
      },
    });
  scalar(
    'lsm_write_amplification',
    'Bytes written to disk (WAL, flush, compaction) per user byte',
    (s) => s.writeAmplification,
  );
  scalar(
    'lsm_space_amplification',
    'Table bytes over the bytes of the biggest sorted run',
    (s) => s.spaceAmplification,
  );
  scalar(
    'lsm_bloom_useful_ratio',
    'Share of Bloom filter checks that skipped a table',
    (s) => s.bloom.usefulRate,
  );
  scalar('lsm_block_cache_hit_ratio', 'Block cache hits over lookups', (s) => s.blockCache.hitRate);
  scalar('lsm_compactions', 'Compactions run since open', (s) => s.compactions);
  scalar('lsm_flushes', 'Memtable flushes since open', (s) => s.flushes);
  scalar(
    'lsm_write_stall_seconds',
    'Seconds writers waited for flush or compaction since open',
    (s) => s.stalls.ms / 1000,
  );
  scalar('lsm_memtable_bytes', 'Bytes in the active memtable', (s) => s.memtable.bytes);
}
