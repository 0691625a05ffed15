// The one topology definition: which services the lab runs, how many nodes, on which ports.
// It feeds `ddia up`, `pnpm start` and the generated docker-compose.yml alike.

export interface ServiceDef {
  /** Name used on the command line: `ddia up kv`. */
  name: string;
  /** Workspace folder under packages/. */
  pkg: string;
  chapter: string;
  title: string;
  /** Nodes started by default, and the most a user may ask for. */
  nodes: number;
  nodesMax: number;
  /** Port of node 1; node k listens on basePort + k - 1. */
  basePort: number;
  /** Whether nodes form a cluster and get `--peers`. */
  clustered: boolean;
  /** Extra flags for every node. */
  args?: string[];
  /** Example requests printed by `pnpm start` ({url} is node 1's URL). */
  curl: string[];
}

export const LANDING_PORT = 8080;

export const TOPOLOGY: ServiceDef[] = [
  {
    name: 'kv',
    pkg: 'kv-store',
    chapter: 'ch1',
    title: 'Replicated key-value store (Raft + LSM)',
    nodes: 3,
    nodesMax: 5,
    basePort: 7001,
    clustered: true,
    curl: ["curl -X PUT --data-binary 'hello' {url}/kv/greeting", '{url}/kv/greeting', '{url}/cluster'],
  },
  {
    name: 'schema-registry',
    pkg: 'schema-evolution',
    chapter: 'ch4',
    title: 'Confluent-compatible schema registry',
    nodes: 1,
    nodesMax: 1,
    basePort: 8081,
    clustered: false,
    curl: ['{url}/subjects', '{url}/schemas/types'],
  },
  {
    name: 'lsm',
    pkg: 'lsm-engine',
    chapter: 'ch3',
    title: 'LSM storage engine',
    nodes: 1,
    nodesMax: 1,
    basePort: 7101,
    clustered: false,
    curl: ["curl -X PUT --data-binary 'v1' {url}/kv/a", "'{url}/kv?gte=a&limit=10'", '{url}/admin/stats'],
  },
  {
    name: 'transactions',
    pkg: 'transactions',
    chapter: 'ch7',
    title: 'MVCC transactions and isolation levels',
    nodes: 1,
    nodesMax: 1,
    basePort: 7301,
    clustered: false,
    curl: ['{url}/tables'],
  },
];

/** Thrown for an unknown service or node name, or a node count out of range. */
export class TopologyError extends Error {
  override name = 'TopologyError';
}

export function findService(name: string): ServiceDef {
  const def = TOPOLOGY.find((s) => s.name === name);
  if (!def) {
    throw new TopologyError(`unknown service '${name}'; services: ${TOPOLOGY.map((s) => s.name).join(', ')}`);
  }
  return def;
}

export interface NodePlan {
  /** Node name, unique in the lab: `kv-n1`. */
  name: string;
  id: string;
  service: string;
  port: number;
  url: string;
}

export function planNodes(def: ServiceDef, count = def.nodes, host = '127.0.0.1'): NodePlan[] {
  if (!Number.isInteger(count) || count < 1 || count > def.nodesMax) {
    throw new TopologyError(`${def.name} runs 1 to ${def.nodesMax} nodes, not ${count}`);
  }
  return Array.from({ length: count }, (_, i) => {
    const port = def.basePort + i;
    return {
      name: `${def.name}-n${i + 1}`,
      id: `n${i + 1}`,
      service: def.name,
      port,
      url: `http://${host}:${port}`,
    };
  });
}

/** The flags that start one node of a service (the same for local processes and containers). */
export function nodeArgs(def: ServiceDef, node: NodePlan, peers: NodePlan[], dataDir: string): string[] {
  const args = ['--id', node.id, '--port', String(node.port), '--data-dir', dataDir];
  if (def.clustered) args.push('--peers', peers.map((p) => `${p.id}=${p.url}`).join(','));
  return [...args, ...(def.args ?? [])];
}
