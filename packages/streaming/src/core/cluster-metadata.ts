// The cluster metadata of a replicated broker, as a deterministic state machine over the
// commands of a Raft log (the KRaft idea, KIP-500: the controller quorum's log IS the
// metadata; every broker applies it in the same order). What it holds: the registered
// brokers and where clients reach them, the topics, and per partition its replicas, leader,
// leader epoch and in-sync replica set.
//
// The two rules that make leader failover lose no acknowledged acks=all record:
// - an ISR change is applied only if it comes from the partition's current leader in its
//   current epoch (Kafka's AlterPartition check): a deposed leader cannot shrink the ISR to
//   itself and then acknowledge alone;
// - a new leader is chosen only from the ISR as it is in this log (a clean election). The
//   leader counts an append acknowledged only when every replica of its ISR has it, and its
//   ISR always contains the one here (it shrinks only after this log has the shrink), so every
//   member that can be elected holds every acknowledged record.
//
// Pure: no I/O, no clocks; the controller (src/cluster/) decides WHEN to elect, this decides
// whether the command is still valid when it is applied.

export interface BrokerRegistration {
  id: number;
  host: string;
  kafkaPort: number;
}

export interface PartitionState {
  replicas: number[];
  /** -1: no leader (offline: no ISR member alive). */
  leader: number;
  leaderEpoch: number;
  isr: number[];
}

export interface TopicState {
  name: string;
  partitions: PartitionState[];
  configs: Record<string, string>;
}

export interface MetadataImage {
  brokers: BrokerRegistration[];
  topics: TopicState[];
}

export type MetadataCommand =
  | { op: 'register'; broker: BrokerRegistration }
  | {
      op: 'createTopic';
      name: string;
      partitions: number;
      configs: Record<string, string>;
      replicas: number[];
    }
  | { op: 'deleteTopic'; name: string }
  /** From the leader: its new ISR, valid only for the epoch it leads. */
  | { op: 'alterIsr'; topic: string; partition: number; leader: number; leaderEpoch: number; isr: number[] }
  /** From the controller: `leader` (an ISR member, or -1) takes over in epoch `leaderEpoch + 1`. */
  | { op: 'elect'; topic: string; partition: number; leaderEpoch: number; leader: number };

export type ApplyResult = { ok: true } | { ok: false; reason: string };

export class ClusterMetadata {
  private readonly brokerMap = new Map<number, BrokerRegistration>();
  private readonly topicMap = new Map<string, TopicState>();

  apply(command: MetadataCommand): ApplyResult {
    switch (command.op) {
      case 'register':
        this.brokerMap.set(command.broker.id, { ...command.broker });
        return { ok: true };
      case 'createTopic': {
        if (this.topicMap.has(command.name)) return { ok: false, reason: 'exists' };
        const replicas = [...command.replicas].sort((a, b) => a - b);
        const partitions: PartitionState[] = [];
        for (let p = 0; p < command.partitions; p++) {
          // Leaders spread round-robin, as Kafka's default assignment does.
          const leader = replicas[p % replicas.length]!;
          partitions.push({ replicas, leader, leaderEpoch: 0, isr: [...replicas] });
        }
        this.topicMap.set(command.name, { name: command.name, partitions, configs: { ...command.configs } });
        return { ok: true };
      }
      case 'deleteTopic':
        return this.topicMap.delete(command.name) ? { ok: true } : { ok: false, reason: 'unknown topic' };
      case 'alterIsr': {
        const p = this.partition(command.topic, command.partition);
        if (!p) return { ok: false, reason: 'unknown partition' };
        if (p.leader !== command.leader || p.leaderEpoch !== command.leaderEpoch)
          return { ok: false, reason: `fenced: leader ${p.leader} epoch ${p.leaderEpoch}` };
        if (!command.isr.includes(command.leader))
          return { ok: false, reason: 'the leader must stay in its ISR' };
        if (command.isr.some((r) => !p.replicas.includes(r))) return { ok: false, reason: 'not a replica' };
        p.isr = [...command.isr].sort((a, b) => a - b);
        return { ok: true };
      }
      case 'elect': {
        const p = this.partition(command.topic, command.partition);
        if (!p) return { ok: false, reason: 'unknown partition' };
        if (p.leaderEpoch !== command.leaderEpoch)
          return { ok: false, reason: `stale: epoch is ${p.leaderEpoch}` };
        if (command.leader !== -1 && !p.isr.includes(command.leader))
          return { ok: false, reason: `unclean: ${command.leader} is not in the ISR ${p.isr}` };
        // The old leader leaves the ISR (it is gone); the new one is in it. With no leader the
        // ISR keeps its last members: they are the only clean candidates when they return.
        if (command.leader !== -1) p.isr = p.isr.filter((r) => r !== p.leader || r === command.leader);
        p.leader = command.leader;
        p.leaderEpoch++;
        return { ok: true };
      }
    }
  }

  partition(topic: string, index: number): PartitionState | undefined {
    return this.topicMap.get(topic)?.partitions[index];
  }

  topic(name: string): TopicState | undefined {
    return this.topicMap.get(name);
  }

  topics(): TopicState[] {
    return [...this.topicMap.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  broker(id: number): BrokerRegistration | undefined {
    return this.brokerMap.get(id);
  }

  brokers(): BrokerRegistration[] {
    return [...this.brokerMap.values()].sort((a, b) => a.id - b.id);
  }

  image(): MetadataImage {
    return { brokers: this.brokers(), topics: this.topics() };
  }

  static fromImage(image: MetadataImage): ClusterMetadata {
    const m = new ClusterMetadata();
    for (const b of image.brokers) m.brokerMap.set(b.id, { ...b });
    for (const t of image.topics)
      m.topicMap.set(t.name, {
        name: t.name,
        configs: { ...t.configs },
        partitions: t.partitions.map((p) => ({ ...p, replicas: [...p.replicas], isr: [...p.isr] })),
      });
    return m;
  }
}

/**
 * The controller's choice when `dead` brokers are gone: for each partition led by one of them
 * (or offline), a live ISR member (the first, for determinism), or -1 when none is alive.
 */
export function electionsFor(
  metadata: ClusterMetadata,
  alive: (id: number) => boolean,
): Extract<MetadataCommand, { op: 'elect' }>[] {
  const out: Extract<MetadataCommand, { op: 'elect' }>[] = [];
  for (const t of metadata.topics()) {
    t.partitions.forEach((p, index) => {
      if (p.leader !== -1 && alive(p.leader)) return;
      const candidate = p.isr.find((r) => r !== p.leader && alive(r)) ?? -1;
      if (candidate === -1 && p.leader === -1) return; // still offline: nothing to do
      out.push({
        op: 'elect',
        topic: t.name,
        partition: index,
        leaderEpoch: p.leaderEpoch,
        leader: candidate,
      });
    });
  }
  return out;
}
