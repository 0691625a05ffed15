// Entry of the 2PC coordinator:
//   node packages/transactions/dist/distributed/coordinator-main.js --port N --data-dir DIR \
//     --participants p0=http://127.0.0.1:7401,p1=http://127.0.0.1:7402 [--chaos]
// Each participant is a transaction node (dist/main.js) owning the accounts with id % peers = its index.
import { join } from 'node:path';
import { configOrExit, createService, type Peer, parsePeers } from '@ddia/common';
import { openDecisionLog } from '../durability/decision-log.js';
import { type ChaosPoint, Coordinator } from './coordinator.js';
import { registerCoordinatorRoutes } from './coordinator-server.js';
import { HttpParticipant, type Participant } from './participant.js';

/** How often in-doubt transactions are looked for and resolved. */
export const RECOVER_INTERVAL_MS = 500;

const config = configOrExit({
  participants: {
    type: 'string',
    description: 'the transaction nodes in shard order: p0=http://127.0.0.1:7401,p1=http://127.0.0.1:7402',
  },
});
// The participants are parsed like --peers (id=url,...), but the coordinator is not one of them.
let shards: Peer[] = [];
try {
  shards = parsePeers(config.extra.participants ?? '');
} catch (err) {
  console.error(`--participants: ${(err as Error).message.replace(/^--peers: /, '')}`);
  process.exit(2);
}
if (shards.length === 0) {
  console.error(
    '--participants: give the transaction nodes, e.g. --participants p0=http://127.0.0.1:7401,p1=...',
  );
  process.exit(2);
}
if (!config.dataDir) {
  console.error('--data-dir: the coordinator needs a directory for its durable decision log');
  process.exit(2);
}
const decisions = await openDecisionLog({ dir: join(config.dataDir, 'decisions') });
const participants = new Map<string, Participant>(
  shards.map((p) => [p.id, new HttpParticipant(p.id, p.url)]),
);
let armed: ChaosPoint | null = null;
const coordinator = new Coordinator(config.id, participants, decisions.log, async (point) => {
  // Chaos: die at this step of the protocol as a power cut would.
  if (armed === point) process.kill(process.pid, 'SIGKILL');
});
coordinator.restore(decisions.records);
await coordinator.start();

const service = await createService({
  name: 'transactions-coordinator',
  config,
  description: 'Two-phase commit coordinator for bank transfers across transaction nodes',
  onClose: async () => {
    clearInterval(resolver);
    await decisions.close();
  },
});
registerCoordinatorRoutes(service.app, {
  coordinator,
  shards: shards.map((p) => p.id),
  chaos: config.chaos,
  arm: (point) => {
    armed = point;
  },
});
let resolving = false;
const resolver = setInterval(() => {
  if (resolving) return;
  resolving = true;
  coordinator
    .recover()
    .catch((e) => service.log.warn({ err: e }, 'recovery round failed'))
    .finally(() => {
      resolving = false;
    });
}, RECOVER_INTERVAL_MS);
const url = await service.listen();
service.log.info({ url, pending: coordinator.pendingDecisions().length }, 'coordinator ready');
