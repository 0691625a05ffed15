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
  /** Arguments before the flags: the role of a program that has several (`coordinator`, `worker`). */
  command?: string[];
  /** Extra flags for every node, given where the lab runs it (see PlanContext), how many
   *  nodes the cluster has, and which node this is (1-based). */
  args?: (lab: PlanContext, clusterSize: number, ordinal: number) => string[];
  /** Ports besides the HTTP one that node 1 listens on (MongoDB, Kafka); node k takes each
   *  port + k - 1, as with basePort. Compose publishes them. */
  extraPorts?: number[];
  /** Example requests printed by `pnpm start` ({url} is node 1's URL). */
  curl: string[];
  /** Optional: one-line facts the landing page shows under the service's heading. */
  facts?: string[];
  /**
   * Optional: a path every node answers with JSON `{ leader, term, members: [{ id, role }] }`
   * (Raft's `GET /cluster`); the landing page then shows the cluster's leader, term and roles.
   */
  leaderPath?: string;
  /** Optional: a page for people (a dashboard) every node serves; the landing page links it. */
  uiPath?: string;
}

export const LANDING_PORT = 8080;
/** The well-known ports of the peers our services imitate. */
const MONGO_PORT = 27017;
const KAFKA_PORT = 9092;
/** min.insync.replicas of the lab's 3-broker streaming cluster. */
const KAFKA_MIN_INSYNC_CLUSTER = 2;
/** Prometheus's port, which the lab's monitoring node takes. */
const PROMETHEUS_PORT = 9090;
/** The service that scrapes the others and takes their spans. */
export const MONITORING = 'monitoring';
/** Leaderless replication's N: copies of each key. */
const REPLICAS_PER_KEY = 3;

/** How a node reaches the lab's other parts: local processes and containers differ. */
export interface PlanContext {
  /** URL of node `ordinal` of `service`: `http://127.0.0.1:7601` locally, `http://batch-n1:7601` in compose. */
  urlOf(service: string, ordinal: number): string;
  /** A fixed port of the topology (27017) as this lab runs it: shifted by DDIA_PORT_OFFSET locally. */
  port(port: number): number;
  /**
   * Whether the lab's monitoring node runs (or is being started with it): every other node then
   * gets `--otlp <monitoring>` and exports its server and client spans there (common's
   * span-export), so the dashboard's traces show the lab's own requests.
   */
  traces?: boolean;
}

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
    facts: [
      'Raft: a write commits once a majority (2 of 3) has it in its log; any node forwards to the leader.',
      'Kill the leader (`ddia kill kv-n1` or `docker kill`) and watch the term rise and a new leader appear.',
    ],
    leaderPath: '/cluster',
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
    facts: [
      'Speaks the Confluent Schema Registry API: Avro schemas, subjects, versions, compatibility checks.',
    ],
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
    facts: ['Writes go to a write-ahead log and a memtable, flush to sorted tables, and compact in levels.'],
  },
  {
    name: 'docdb',
    pkg: 'document-db',
    chapter: 'ch2',
    title: 'Document database (HTTP and the MongoDB wire protocol)',
    nodes: 1,
    nodesMax: 1,
    basePort: 7201,
    clustered: false,
    args: (lab) => ['--mongo-port', String(lab.port(MONGO_PORT))],
    extraPorts: [MONGO_PORT],
    curl: [
      'curl -X POST -H \'content-type: application/json\' -d \'{"documents":[{"name":"Ada"}]}\' {url}/db/lab/people/insert',
      'curl -X POST -H \'content-type: application/json\' -d \'{"filter":{"name":"Ada"}}\' {url}/db/lab/people/find',
    ],
    facts: [
      `MongoDB clients (mongosh, the mongodb driver) connect to port ${MONGO_PORT}; HTTP JSON on the same engine.`,
      'Secondary indexes and a query planner: compare `explain` with and without an index.',
    ],
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
    facts: ['Six isolation levels on one MVCC store, chosen per transaction (POST /tx {"isolation": ...}).'],
  },
  {
    name: 'streaming',
    pkg: 'streaming',
    chapter: 'ch11',
    title: 'Kafka-protocol log broker (3 brokers, metadata in Raft)',
    nodes: 3,
    // Every broker holds every partition: more brokers would only add copies.
    nodesMax: 3,
    basePort: 7401,
    clustered: true,
    // Broker k speaks Kafka on 9092 + k - 1. With three copies acks=all needs two of them
    // (Kafka's usual replication factor 3 with min.insync.replicas=2): one broker may die.
    args: (lab, size, ordinal) => [
      '--kafka-port',
      String(lab.port(KAFKA_PORT) + ordinal - 1),
      '--min-insync-replicas',
      String(size >= KAFKA_MIN_INSYNC_CLUSTER + 1 ? KAFKA_MIN_INSYNC_CLUSTER : 1),
    ],
    extraPorts: [KAFKA_PORT],
    curl: ['{url}/cluster', '{url}/topics', '{url}/broker'],
    facts: [
      `kafkajs and kcat talk to it unchanged on ports ${KAFKA_PORT}-${KAFKA_PORT + 2}: a partitioned, replicated, replayable log.`,
      'Kill a partition leader (`ddia kill streaming-n1`): the controller (the Raft leader) elects an in-sync replica.',
    ],
    // The controller: the Raft leader of the cluster metadata (the KRaft idea).
    leaderPath: '/cluster',
  },
  {
    name: 'replication',
    pkg: 'replication',
    chapter: 'ch5',
    title: 'Leaderless replication (Dynamo-style N/R/W, siblings, read repair)',
    nodes: 3,
    nodesMax: 5,
    basePort: 7501,
    clustered: true,
    // Leaderless shows the most of chapter 5 at once; single-leader and multi-leader run by
    // hand with --mode (see the package's README).
    // N = 3 replicas per key (Dynamo's usual setting), fewer in a smaller cluster.
    args: (_lab, size) => ['--mode', 'leaderless', '--n', String(Math.min(REPLICAS_PER_KEY, size))],
    curl: [
      "curl -i -X PUT --data-binary 'v1' '{url}/kv/cart?w=quorum'",
      "curl -i '{url}/kv/cart?r=quorum'",
      '{url}/cluster',
    ],
    facts: [
      'Every node takes writes; a write waits for W of N replicas, a read asks R (R + W > N overlaps).',
      'Concurrent writes come back as siblings (300 Multiple Choices) with an X-Context to merge them.',
    ],
  },
  {
    name: 'partitions',
    pkg: 'partitioning',
    chapter: 'ch6',
    title: 'Partitioned key-value store (hash, range, consistent hashing)',
    nodes: 3,
    nodesMax: 5,
    basePort: 7701,
    clustered: true,
    args: () => ['--scheme', 'hash'],
    curl: ["curl -X PUT --data-binary 'red' {url}/kv/apple", '{url}/kv/apple', '{url}/cluster'],
    facts: [
      'Keys hash to 64 partitions spread over the nodes; any node forwards a request to the owner.',
      'Add a node (POST /cluster/nodes) and watch partitions move while reads and writes go on.',
    ],
  },
  {
    name: 'batch',
    pkg: 'batch',
    chapter: 'ch10',
    title: 'MapReduce batch engine (coordinator)',
    nodes: 1,
    nodesMax: 1,
    basePort: 7601,
    clustered: false,
    command: ['coordinator'],
    curl: ['{url}/workers', '{url}/jobs'],
    facts: ['Jobs split into map and reduce tasks; workers shuffle map output over HTTP.'],
  },
  {
    name: 'batch-worker',
    pkg: 'batch',
    chapter: 'ch10',
    title: 'MapReduce batch engine (worker)',
    // One worker: a worker tells the coordinator the URL it listens on, which in a container
    // is its loopback address; several workers in compose could not fetch each other's output.
    nodes: 1,
    nodesMax: 4,
    basePort: 7611,
    clustered: false,
    command: ['worker'],
    args: (lab) => ['--coordinator', lab.urlOf('batch', 1)],
    curl: [],
  },
  {
    name: 'monitoring',
    pkg: 'monitoring',
    chapter: 'ch8',
    title: 'Monitoring: scraping, a time-series database, PromQL, alerts',
    nodes: 1,
    nodesMax: 1,
    basePort: PROMETHEUS_PORT,
    clustered: false,
    // Scrapes every other service of the lab, each node, as Prometheus would.
    args: (lab) => ['--scrape', labScrapeTargets(lab)],
    // The dashboard: targets, graphs, a page per Raft cluster, traces.
    uiPath: '/',
    curl: [
      "'{url}/api/v1/query?query=up'",
      "'{url}/api/v1/query?query=sum%20by%20(job)%20(rate(http_request_duration_seconds_count%5B1m%5D))'",
      '{url}/api/v1/targets',
    ],
    facts: [
      'Scrapes every node of the lab every 5 s; `up` drops to 0 for a node you `ddia kill`.',
      'Phi-accrual failure detection per target: suspicion rises smoothly, not as a timeout.',
    ],
  },
];

/** `--scrape` for the monitoring node: one job per service, every default node's host:port. */
function labScrapeTargets(lab: PlanContext): string {
  return TOPOLOGY.filter((def) => def.name !== MONITORING)
    .map((def) => {
      const nodes = Array.from({ length: def.nodes }, (_, i) => new URL(lab.urlOf(def.name, i + 1)).host);
      return `${def.name}=${nodes.join(',')}`;
    })
    .join(';');
}

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
  /** 1 for the first node. */
  ordinal: number;
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
      ordinal: i + 1,
      port,
      url: `http://${host}:${port}`,
    };
  });
}

/** The flags that start one node of a service (the same for local processes and containers). */
export function nodeArgs(
  def: ServiceDef,
  node: NodePlan,
  peers: NodePlan[],
  dataDir: string,
  lab: PlanContext,
): string[] {
  const args = [...(def.command ?? []), '--id', node.id, '--port', String(node.port), '--data-dir', dataDir];
  if (def.clustered) args.push('--peers', peers.map((p) => `${p.id}=${p.url}`).join(','));
  // Monitoring does not trace itself: its dashboard's queries would bury the lab's spans.
  if (lab.traces && def.name !== MONITORING) args.push('--otlp', lab.urlOf(MONITORING, 1));
  return [...args, ...(def.args?.(lab, peers.length, node.ordinal) ?? [])];
}

/** Every port a node listens on: its HTTP port, then its share of the service's extra ports
 *  (as `lab` runs them: shifted by DDIA_PORT_OFFSET locally). */
export function nodePorts(def: ServiceDef, node: NodePlan, lab: PlanContext): number[] {
  return [node.port, ...(def.extraPorts ?? []).map((port) => lab.port(port) + node.ordinal - 1)];
}
