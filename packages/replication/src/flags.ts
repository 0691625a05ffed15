// The service's flags beyond common's (--id, --port, --peers, --data-dir, --chaos), and the
// checks that span several flags (W > N). A bad flag is a ConfigError: main.ts exits 2 naming it.
import { type Config, ConfigError, type FlagSpec } from '@ddia/common';
import { DC_QUORUM_WORDS, isDcQuorumWord, parseDcs } from './core/dc-quorum.js';
import { parseSyncRule, type SyncRule } from './core/sync-rule.js';
import { TOPOLOGIES } from './core/topology.js';
import { MODES, type ModeName } from './node/mode.js';

/** Dynamo's and Cassandra's usual replication factor. */
export const N_DEFAULT = 3;
export const QUORUM_WORDS = ['one', 'quorum', 'all', ...DC_QUORUM_WORDS] as const;

export const REPLICATION_FLAGS = {
  mode: {
    type: 'string',
    description: 'replication style',
    default: 'leaderless',
    choices: MODES,
  },
  n: {
    type: 'number',
    description: 'leaderless: replicas per key (0: 3, or the cluster size when smaller)',
    default: 0,
    min: 0,
    max: 32,
  },
  w: {
    type: 'string',
    description: 'leaderless: default write quorum (count|one|quorum|all|local_quorum|each_quorum)',
    default: 'quorum',
  },
  r: {
    type: 'string',
    description: 'leaderless: default read quorum (count|one|quorum|all|local_quorum|each_quorum)',
    default: 'quorum',
  },
  dcs: {
    type: 'string',
    description:
      "leaderless: every member's datacenter, e.g. 'us1=us,us2=us,eu1=eu' (Cassandra's topology file); enables local_quorum and each_quorum",
    default: '',
  },
  sloppy: {
    type: 'boolean',
    description: 'leaderless: sloppy quorum with hinted handoff',
    default: true,
  },
  resolution: {
    type: 'string',
    description: 'conflict policy of PUT when the request names none: mv (siblings) or lww',
    default: 'mv',
    choices: ['mv', 'lww'],
  },
  topology: {
    type: 'string',
    description:
      'multi-leader: where a leader pushes its writes (Figure 5-8): every other leader, the next one in --peers order (circular), or the first peer as hub (star)',
    default: 'all-to-all',
    choices: TOPOLOGIES,
  },
  leader: { type: 'string', description: 'single-leader: the leader of epoch 1 (default: first peer)' },
  'sync-standbys': {
    type: 'string',
    description: "single-leader: synchronous_standby_names, e.g. 'ANY 1 (n2, n3)' ('' = async)",
    default: '',
  },
  'forward-writes': {
    type: 'boolean',
    description:
      "single-leader: a follower forwards a write to the leader and relays its answer (etcd's and Elasticsearch's way) instead of answering 421 with the leader's address (PostgreSQL's, MongoDB's and Redis's way: the client routes)",
    default: false,
  },
  'failover-after-ms': {
    type: 'number',
    description: 'single-leader: automatic failover after this much leader silence (0 = manual)',
    default: 0,
    min: 0,
    max: 600_000,
  },
  fencing: {
    type: 'string',
    description: 'single-leader: lease or none',
    default: 'lease',
    choices: ['lease', 'none'],
  },
  'lease-ms': {
    type: 'number',
    description: 'single-leader: leader lease',
    default: 2_000,
    min: 50,
    max: 600_000,
  },
  'replication-format': {
    type: 'string',
    description: 'single-leader: row (logical) or statement',
    default: 'row',
    choices: ['row', 'statement'],
  },
  'log-retain-entries': {
    type: 'number',
    description:
      'single-leader: log entries the leader keeps for followers to catch up from; one further behind (or new) gets a snapshot and the log after it',
    default: 100_000,
    min: 1,
    max: 100_000_000,
  },
  'tombstone-grace-ms': {
    type: 'number',
    description:
      'multi-leader, leaderless: how long a delete is kept as a tombstone (so that replicas that missed it learn of it) before it is collected',
    default: 10 * 60_000,
    min: 100,
    max: 30 * 24 * 3_600_000,
  },
  'anti-entropy-ms': {
    type: 'number',
    description: 'Merkle anti-entropy period (0 = off)',
    default: 5_000,
    min: 0,
    max: 3_600_000,
  },
  'journal-compact-records': {
    type: 'number',
    description:
      'compact the journal (snapshot of the state, older segments dropped) once it holds this many records (0 = never)',
    default: 100_000,
    min: 0,
    max: 100_000_000,
  },
  'journal-segment-bytes': {
    type: 'number',
    description: 'journal segment size: compaction frees whole segments',
    default: 4 * 1024 * 1024,
    min: 1_024,
    max: 1024 * 1024 * 1024,
  },
  'tick-ms': { type: 'number', description: 'core tick period', default: 20, min: 1, max: 10_000 },
  'request-timeout-ms': {
    type: 'number',
    description: 'how long a quorum or sync write waits',
    default: 2_000,
    min: 50,
    max: 600_000,
  },
  'key-bytes-max': { type: 'number', description: 'largest key', default: 1_024, min: 1, max: 65_536 },
  'value-bytes-max': {
    type: 'number',
    description: 'largest value',
    default: 1024 * 1024,
    min: 1,
    max: 16 * 1024 * 1024,
  },
} as const satisfies Record<string, FlagSpec>;

export type ReplicationConfig = Config<typeof REPLICATION_FLAGS>;

export type QuorumFlag = number | (typeof QUORUM_WORDS)[number];

/** A --w / --r / ?w= / ?r= value; null when it is neither a positive count nor a word. */
export function parseQuorum(text: string): QuorumFlag | null {
  if ((QUORUM_WORDS as readonly string[]).includes(text)) return text as QuorumFlag;
  if (!/^\d{1,3}$/.test(text)) return null;
  const count = Number(text);
  return count >= 1 ? count : null;
}

export interface Settings {
  mode: ModeName;
  nodes: string[];
  n: number;
  w: QuorumFlag;
  r: QuorumFlag;
  leader: string;
  syncStandbys: SyncRule | null;
  /** Each member's datacenter (leaderless --dcs), null when not given. */
  dcOf: Map<string, string> | null;
}

/** The checks no single flag can make. Throws ConfigError naming the flag. */
export function settingsOf(config: ReplicationConfig): Settings {
  const nodes = config.peers.length > 0 ? config.peers.map((p) => p.id) : [config.id];
  const extra = config.extra;
  const mode = extra.mode as ModeName;
  const n = extra.n === 0 ? Math.min(N_DEFAULT, nodes.length) : extra.n;
  if (mode === 'leaderless' && n > nodes.length)
    throw new ConfigError('n', `must be at most the cluster size ${nodes.length}, got ${n}`);
  const quorum = (flag: 'w' | 'r'): QuorumFlag => {
    const text = extra[flag] ?? 'quorum';
    const value = parseQuorum(text);
    if (value === null)
      throw new ConfigError(
        flag,
        `expected a count, one, quorum, all, local_quorum or each_quorum, got '${text}'`,
      );
    if (isDcQuorumWord(value) && !extra.dcs)
      throw new ConfigError(flag, `${value} needs every member's datacenter: give --dcs`);
    if (mode === 'leaderless' && typeof value === 'number' && value > n)
      throw new ConfigError(flag, `${flag.toUpperCase()} = ${value} is more than N = ${n} replicas`);
    return value;
  };
  let dcOf: Map<string, string> | null = null;
  if (extra.dcs) {
    if (mode !== 'leaderless') throw new ConfigError('dcs', 'applies to leaderless mode only');
    const parsed = parseDcs(extra.dcs, nodes);
    if (typeof parsed === 'string') throw new ConfigError('dcs', parsed);
    dcOf = parsed;
  }
  if (extra.topology !== 'all-to-all' && mode !== 'multi-leader')
    throw new ConfigError('topology', 'applies to multi-leader mode only');
  const w = quorum('w');
  const r = quorum('r');
  const leader = extra.leader ?? nodes[0]!;
  if (!nodes.includes(leader)) throw new ConfigError('leader', `'${leader}' is not among --peers`);
  let syncStandbys: SyncRule | null;
  try {
    syncStandbys = parseSyncRule(extra['sync-standbys'] ?? '');
  } catch (error) {
    throw new ConfigError('sync-standbys', (error as Error).message);
  }
  for (const name of syncStandbys?.names ?? [])
    if (!nodes.includes(name)) throw new ConfigError('sync-standbys', `'${name}' is not among --peers`);
  return { mode, nodes, n, w, r, leader, syncStandbys, dcOf };
}
