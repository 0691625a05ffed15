// Builds the whole service: the store, the engine, the HTTP routes and the wire-protocol server.
import { type Config, createService, type FlagSpec, openStore, type Service } from '@ddia/common';
import { lsmEngine } from '@ddia/lsm-engine';
import { registerDocumentRoutes } from './http-routes.js';
import { DocumentDatabase } from './storage/database.js';
import { WireServer } from './wire/server.js';

export const DOCDB_FLAGS = {
  'mongo-port': {
    type: 'number',
    description: 'TCP port of the MongoDB wire protocol (0 = any free port)',
    default: 27017,
    min: 0,
    max: 65535,
  },
  'cursor-timeout-ms': {
    type: 'number',
    description: 'an idle cursor is closed after this long (MongoDB: 10 minutes)',
    default: 600_000,
    min: 100,
    max: 86_400_000,
  },
  'ttl-monitor-ms': {
    type: 'number',
    description: 'how often TTL indexes are swept for expired documents (MongoDB: every 60 s)',
    default: 60_000,
    min: 10,
    max: 86_400_000,
  },
} as const satisfies Record<string, FlagSpec>;

export type DocDbConfig = Config<typeof DOCDB_FLAGS>;

export interface DocumentDbNode {
  service: Service;
  engine: DocumentDatabase;
  wire: WireServer;
  httpUrl: string;
  mongoPort: number;
}

export async function startDocumentDb(config: DocDbConfig): Promise<DocumentDbNode> {
  const engineName = config.dataDir ? config.engine : 'memory';
  const store = await openStore({
    engine: engineName,
    ...(config.dataDir ? { dataDir: config.dataDir } : {}),
    name: 'documents',
    lsm: lsmEngine,
    keyEncoding: 'view',
    valueEncoding: 'view',
  });
  const engine = await DocumentDatabase.open(store, () => performance.now());
  const wire = new WireServer(engine, { cursorTimeoutMs: config.extra['cursor-timeout-ms'] });
  let ttlMonitor: NodeJS.Timeout | undefined;
  const service = await createService({
    name: 'document-db',
    description:
      "Chapter 2: a document database with MongoDB's query language, indexes, a planner and wire protocol",
    config,
    onClose: async () => {
      clearInterval(ttlMonitor);
      await wire.close();
      await engine.close();
      await store.close();
    },
  });
  engine.onValidationWarning = (ns, id) =>
    service.log.warn({ ns, id: String(id) }, 'Document would fail validation (validationAction warn)');
  registerDocumentRoutes(service.app, engine);
  // The TTL monitor: one pass at a time, on the wall clock (a TTL is about dates in documents).
  let sweeping = false;
  ttlMonitor = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    engine
      .expireDocuments(Date.now())
      .then((deleted) => {
        if (deleted > 0) service.log.info({ deleted }, 'TTL monitor deleted expired documents');
      })
      .catch((error: Error) => service.log.warn({ err: error.message }, 'TTL monitor pass failed'))
      .finally(() => {
        sweeping = false;
      });
  }, config.extra['ttl-monitor-ms']);
  ttlMonitor.unref();
  const httpUrl = await service.listen();
  const mongoPort = await wire.listen(config.extra['mongo-port'], config.host);
  service.log.info(
    { httpUrl, mongoPort, engine: engineName, dataDir: config.dataDir ?? null },
    'document-db ready',
  );
  return { service, engine, wire, httpUrl, mongoPort };
}
