// The register server: a tiny linearizable read / write / compare-and-set register service used
// only by testkit's own end-to-end tests (nemesis + history + linearizability checker).
//   node packages/testkit/dist/register/main.js --id n1 --port 7001 --peers n1=...,n2=... \
//     --data-dir /tmp/r1 [--primary n1] [--stale-cache] [--chaos]
import { configOrExit, createService, SystemClock } from '@ddia/common';
import { RegisterStore } from './register-store.js';
import { registerRoutes } from './server.js';
import { STALE_CACHE_TTL_MS_DEFAULT, StaleReadCache } from './stale-cache.js';

const config = configOrExit({
  primary: { type: 'string', description: 'id of the node that owns the registers (default: first peer)' },
  'stale-cache': {
    type: 'boolean',
    description: 'BROKEN ON PURPOSE: followers answer reads from a local cache (not linearizable)',
    default: false,
  },
  'stale-cache-ttl-ms': {
    type: 'number',
    description: 'how long a cached read is served',
    default: STALE_CACHE_TTL_MS_DEFAULT,
    min: 1,
    max: 600_000,
  },
});

const peers = config.peers.length > 0 ? config.peers : [{ id: config.id, url: '' }];
const primaryId = config.extra.primary ?? peers[0]!.id;
const primary = peers.find((p) => p.id === primaryId);
if (!primary) {
  process.stderr.write(`error: --primary: '${primaryId}' is not in --peers\n`);
  process.exit(2);
}
const isPrimary = primaryId === config.id;
const clock = new SystemClock();
const store = isPrimary ? await RegisterStore.open(config.dataDir) : null;
const service = await createService({
  name: 'register',
  config,
  description: 'A linearizable register (primary + forwarding followers) for testkit end-to-end tests',
  onClose: async () => store?.close(),
});
registerRoutes(service.app, {
  store,
  primaryUrl: primary.url,
  staleCache:
    !isPrimary && config.extra['stale-cache']
      ? new StaleReadCache(clock, config.extra['stale-cache-ttl-ms'])
      : null,
  chaos: config.chaos,
  clock,
});
await service.listen();
