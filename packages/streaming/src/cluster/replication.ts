// Cluster mode (--id n1 --peers n1=http://...,n2=...,n3=...): every broker holds every
// partition; per partition one leader takes appends and the others fetch from it.
//
// - Metadata (brokers, topics, partition leader / epoch / ISR) is a Raft log (@ddia/raft)
//   over the brokers' HTTP ports: the KRaft idea. core/cluster-metadata.ts is its state
//   machine; every broker applies it and takes the roles it names.
// - The controller is whichever broker leads Raft: it watches the others' /health and, when a
//   partition's leader has not answered for --broker-session-timeout-ms, commits an election
//   of a live ISR member with the next leader epoch.
// - A leader (core/replication.ts's PartitionLeader) stamps its epoch into each batch, serves
//   followers' fetches (POST /internal/replica/fetch), keeps the ISR (a follower that has not
//   caught up for --replica-lag-time-max-ms leaves it, through the metadata log, before the
//   leader stops waiting for it) and the high watermark (what the ISR has: all that consumers
//   see); acks=all is answered once the high watermark passes the batch.
// - A follower, on each new leader epoch, first cuts its log back to where it agrees with the
//   leader's by leader epochs (KIP-101, POST /internal/replica/epoch-end), then fetches.
import { type HttpClient, type Peer, PollTimeoutError, pollUntil, type ServiceApp } from '@ddia/common';
import { FileStorage, HttpTransport, RaftNode, registerRaftRoutes } from '@ddia/raft';
import { type Static, Type } from 'typebox';
import type { Broker, ReplicationHooks } from '../broker/broker.js';
import {
  type ApplyResult,
  ClusterMetadata,
  electionsFor,
  type MetadataCommand,
  type MetadataImage,
} from '../core/cluster-metadata.js';
import { ErrorCode, OFFSETS_TOPIC } from '../core/index.js';
import { endOffsetForEpoch, PartitionLeader, truncationOffset } from '../core/replication.js';
import { join } from '../log/files.js';
import type { PartitionLog } from '../log/partition-log.js';
import { ReplicatedOffsets, TOMBSTONES_TIMEOUT_MS } from './group-offsets.js';

export interface ReplicationOptions {
  selfId: string;
  peers: Peer[];
  broker: Broker;
  app: ServiceApp;
  client: HttpClient;
  dataDir: string;
  lagTimeMaxMs: number;
  minInsync: number;
  sessionTimeoutMs: number;
  /** How long a follower's fetch waits at the leader for new data. */
  fetchWaitMs: number;
}

const ROLE_TICK_MS = 100;
const CONTROLLER_TICK_MS = 250;
const FETCH_BYTES_MAX = 1024 * 1024;
const RETRY_MS = 100;
/** How long DeleteTopics waits for the offsets partitions' leaders to replicate tombstones. */
const FORGET_TIMEOUT_MS = TOMBSTONES_TIMEOUT_MS + 2000;
/** How long one ask of a leader waits for its tombstones before answering "not yet". */
const FORGET_POLL_MS = 1000;

/** Node ids in Kafka are integers: n1 -> 1. */
export function numericId(id: string): number {
  const digits = /(\d+)$/.exec(id);
  return digits ? Number(digits[1]) : 1;
}

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface LeaderRole {
  kind: 'leader';
  epoch: number;
  leader: PartitionLeader;
  /** An ISR change proposed and not yet answered. */
  altering: boolean;
}

interface FollowerRole {
  kind: 'follower';
  epoch: number;
  leaderId: number;
  stopped: boolean;
  done: Promise<void>;
}

type Role = LeaderRole | FollowerRole;

// Bodies of the broker-to-broker routes. Only brokers call them, but a malformed body (a
// version skew, a hand-made curl) is refused with a 400 before it reaches a partition's log.
const TopicName = Type.String({ minLength: 1, maxLength: 249 });
const PartitionIndex = Type.Integer({ minimum: 0 });
const FetchRequestSchema = Type.Object({
  topic: TopicName,
  partition: PartitionIndex,
  replica: Type.Integer({ minimum: 0 }),
  epoch: Type.Integer({ minimum: 0 }),
  fetchOffset: Type.Integer({ minimum: 0 }),
});
export type FetchRequestBody = Static<typeof FetchRequestSchema>;
const EpochEndSchema = Type.Object({
  topic: TopicName,
  partition: PartitionIndex,
  epoch: Type.Integer({ minimum: -1 }),
  leaderEpoch: Type.Integer({ minimum: 0 }),
});
const ForgottenSchema = Type.Object({ topic: TopicName });

export class Replication implements ReplicationHooks {
  readonly selfNum: number;
  metadata = new ClusterMetadata();
  raft!: RaftNode<ApplyResult>;
  private readonly urls = new Map<number, string>();
  private readonly roles = new Map<string, Role>();
  /** Role changes per partition run one after another (a follower loop stops before a leader starts). */
  private readonly chains = new Map<string, Promise<void>>();
  /** Roles are taken only once this broker's metadata is current (not while replaying its log). */
  caughtUp = false;
  private closed = false;
  private readonly timers: { cancel(): void }[] = [];
  private readonly lastSeen = new Map<number, number>();
  private controllerSince = -1;
  /** Committed offsets in the replicated __consumer_offsets topic (the coordinator's store here). */
  readonly groupOffsets: ReplicatedOffsets;

  constructor(private readonly options: ReplicationOptions) {
    this.selfNum = numericId(options.selfId);
    this.groupOffsets = new ReplicatedOffsets(options.broker, this);
    options.broker.coordinator.offsets = this.groupOffsets;
    for (const p of options.peers) {
      const n = numericId(p.id);
      if (this.urls.has(n)) throw new Error(`peers '${p.id}' and another map to the same node id ${n}`);
      this.urls.set(n, p.url);
    }
  }

  private get broker(): Broker {
    return this.options.broker;
  }

  private now(): number {
    return this.broker.clock.nowMs();
  }

  async start(kafkaHost: string, kafkaPort: number): Promise<void> {
    const others = Object.fromEntries(
      this.options.peers.filter((p) => p.id !== this.options.selfId).map((p) => [p.id, p.url]),
    );
    this.raft = await RaftNode.start<ApplyResult>({
      id: this.options.selfId,
      members: this.options.peers.map((p) => ({ id: p.id, url: p.url })),
      storage: await FileStorage.open({ dir: join(this.options.dataDir, 'metadata-raft'), fsync: 'group' }),
      transport: new HttpTransport({ self: this.options.selfId, peers: others }),
      stateMachine: {
        apply: (command) => this.apply(JSON.parse(decoder.decode(command)) as MetadataCommand),
        snapshot: () => encoder.encode(JSON.stringify(this.metadata.image())),
        restore: (data) => this.restore(JSON.parse(decoder.decode(data)) as MetadataImage),
      },
      tickMs: 50,
      electionTicks: 10,
      heartbeatTicks: 1,
      preVote: true,
      checkQuorum: true,
      forwardProposals: true,
      logger: this.broker.logger as never,
    });
    registerRaftRoutes(this.options.app as never, this.raft);
    this.registerRoutes();
    // Register (where clients reach this broker), then catch up with the metadata before
    // taking any role: a replayed old state must not make this broker act as a leader again.
    void this.catchUp(kafkaHost, kafkaPort);
    this.schedule(ROLE_TICK_MS, () => this.leaderTick());
    this.schedule(CONTROLLER_TICK_MS, () => this.controllerTick());
  }

  private async catchUp(host: string, kafkaPort: number): Promise<void> {
    while (!this.closed) {
      try {
        await this.propose({ op: 'register', broker: { id: this.selfNum, host, kafkaPort } });
        const index = await this.raft.readIndex({ timeoutMs: 2000 });
        await this.raft.waitApplied(index);
        for (const t of this.broker.allTopics())
          if (!this.metadata.topic(t.meta.name)) await this.broker.deleteTopic(t.meta.name);
        this.caughtUp = true;
        this.broker.logger.info({ applied: index }, 'cluster metadata caught up; taking partition roles');
        this.reconcileAll();
        return;
      } catch {
        await this.sleep(RETRY_MS * 2);
      }
    }
  }

  private schedule(ms: number, fn: () => Promise<void>): void {
    const run = () => {
      if (this.closed) return;
      fn()
        .catch((err) => this.broker.logger.warn({ err }, 'cluster tick failed'))
        .finally(() => {
          if (!this.closed) this.timers.push(this.broker.clock.setTimeout(run, ms));
        });
    };
    this.timers.push(this.broker.clock.setTimeout(run, ms));
  }

  /** The metadata log's commit index as of now, retried while no Raft leader is known (an
   *  election under way answers "not leader" at once). */
  private async readIndexWithin(timeoutMs: number): Promise<number> {
    const deadline = this.now() + timeoutMs;
    let lastError: unknown;
    try {
      return await pollUntil(
        () =>
          this.raft.readIndex({ timeoutMs: Math.max(1, deadline - this.now()) }).catch((err) => {
            lastError = err;
            return undefined;
          }),
        { timeoutMs, intervalMs: RETRY_MS, what: 'a metadata read index', clock: this.broker.clock },
      );
    } catch (err) {
      throw lastError ?? err;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.broker.clock.setTimeout(resolve, ms));
  }

  async propose(command: MetadataCommand): Promise<ApplyResult> {
    const outcome = await this.raft.propose(encoder.encode(JSON.stringify(command)), { timeoutMs: 5000 });
    return outcome.result;
  }

  // ---- the metadata state machine, applied in log order on every broker ----

  private async apply(command: MetadataCommand): Promise<ApplyResult> {
    const result = this.metadata.apply(command);
    if (!result.ok) return result;
    if (command.op === 'createTopic') {
      await this.broker.createTopic(command.name, command.partitions, command.configs);
      for (let p = 0; p < command.partitions; p++) this.reconcile(command.name, p);
    } else if (command.op === 'deleteTopic') {
      // While replaying its log after a restart a broker keeps its files: the topic may have
      // been created again later, and these files may be the new one's. catchUp() then drops
      // what the current metadata no longer has.
      if (!this.caughtUp) return result;
      await this.dropRoles(command.name);
      await this.broker.deleteTopic(command.name);
    } else if (command.op === 'elect' || command.op === 'alterIsr') {
      this.reconcile(command.topic, command.partition);
    }
    return result;
  }

  private async restore(image: MetadataImage): Promise<void> {
    const fresh = ClusterMetadata.fromImage(image);
    for (const t of this.broker.allTopics()) {
      // (While replaying after a restart, catchUp() does this once the metadata is current.)
      if (this.caughtUp && !fresh.topic(t.meta.name)) {
        await this.dropRoles(t.meta.name);
        await this.broker.deleteTopic(t.meta.name);
      }
    }
    for (const t of fresh.topics()) await this.broker.createTopic(t.name, t.partitions.length, t.configs);
    this.metadata = fresh;
    this.reconcileAll();
  }

  private reconcileAll(): void {
    for (const t of this.metadata.topics())
      for (let p = 0; p < t.partitions.length; p++) this.reconcile(t.name, p);
  }

  private async dropRoles(topic: string): Promise<void> {
    for (const [k, role] of [...this.roles]) {
      if (!k.startsWith(`${topic}\u0000`)) continue;
      this.roles.delete(k);
      if (role.kind === 'follower') {
        role.stopped = true;
        await role.done;
      }
    }
    this.broker.wakeWaiters();
  }

  /** Moves this broker's role for one partition to what the metadata says now (queued per partition). */
  private reconcile(topic: string, partition: number): void {
    if (!this.caughtUp || this.closed) return;
    const k = key(topic, partition);
    const run = (this.chains.get(k) ?? Promise.resolve()).then(() => this.takeRole(topic, partition));
    this.chains.set(
      k,
      run.catch((err) => this.broker.logger.error({ err, topic, partition }, 'role change failed')),
    );
  }

  private async takeRole(topic: string, partition: number): Promise<void> {
    const k = key(topic, partition);
    const state = this.metadata.partition(topic, partition);
    const log = this.broker.partition(topic, partition);
    const current = this.roles.get(k);
    if (!state || !log || this.closed) return;
    const wantLeader = state.leader === this.selfNum;
    if (current && current.epoch === state.leaderEpoch && (current.kind === 'leader') === wantLeader) return;
    // Leave the old role first.
    if (current) {
      this.roles.delete(k);
      if (current.kind === 'follower') {
        current.stopped = true;
        await current.done;
      }
      this.broker.wakeWaiters(); // acks=all waiters of a deposed leader answer NOT_LEADER
    }
    if (wantLeader) {
      const leader = new PartitionLeader({
        leaderId: String(this.selfNum),
        epoch: state.leaderEpoch,
        replicas: state.replicas.map(String),
        isr: state.isr.map(String),
        logEndOffset: log.writtenEndOffset,
        highWatermark: log.highWatermark,
        lagTimeMaxMs: this.options.lagTimeMaxMs,
        minInsync: this.options.minInsync,
        nowMs: this.now(),
      });
      this.roles.set(k, { kind: 'leader', epoch: state.leaderEpoch, leader, altering: false });
      leader.appended(log.writtenEndOffset);
      log.setHighWatermark(leader.highWatermark);
      this.broker.logger.info(
        { topic, partition, epoch: state.leaderEpoch, isr: state.isr, logEnd: log.logEndOffset },
        'leading partition',
      );
    } else if (state.leader !== -1) {
      const role: FollowerRole = {
        kind: 'follower',
        epoch: state.leaderEpoch,
        leaderId: state.leader,
        stopped: false,
        done: Promise.resolve(),
      };
      role.done = this.follow(topic, partition, log, role);
      this.roles.set(k, role);
    }
  }

  // ---- follower ----

  private async follow(
    topic: string,
    partition: number,
    log: PartitionLog,
    role: FollowerRole,
  ): Promise<void> {
    const url = this.urls.get(role.leaderId);
    if (!url) return;
    let reconciled = false;
    while (!role.stopped && !this.closed) {
      try {
        if (!reconciled) {
          await this.truncateToLeader(topic, partition, log, role, url);
          reconciled = true;
          continue;
        }
        const body: FetchRequestBody = {
          topic,
          partition,
          replica: this.selfNum,
          epoch: role.epoch,
          fetchOffset: log.logEndOffset,
        };
        const res = await this.options.client.request(`${url}/internal/replica/fetch`, {
          method: 'POST',
          body,
          deadlineMs: this.options.fetchWaitMs + 2000,
          retry: false,
        });
        const answer = res.json<{ errorCode: number; highWatermark: number; records: string[] }>();
        if (role.stopped) return;
        if (answer.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
          reconciled = false;
          continue;
        }
        if (answer.errorCode !== ErrorCode.NONE) {
          await this.sleep(RETRY_MS);
          continue;
        }
        await log.appendReplicated(answer.records.map((r) => new Uint8Array(Buffer.from(r, 'base64'))));
        log.setHighWatermark(answer.highWatermark);
      } catch (err) {
        if (role.stopped) return;
        this.broker.logger.warn(
          { topic, partition, leader: role.leaderId, err: (err as Error).message },
          'replica fetch failed',
        );
        await this.sleep(RETRY_MS * 2);
      }
    }
  }

  /** KIP-101/279: ask the leader where our latest epoch ends in its log, cut there, repeat. */
  private async truncateToLeader(
    topic: string,
    partition: number,
    log: PartitionLog,
    role: FollowerRole,
    url: string,
  ): Promise<void> {
    for (let round = 0; round < 100 && !role.stopped; round++) {
      const epochs = log.epochStarts();
      if (epochs.length === 0) return;
      const latest = epochs[epochs.length - 1]!.epoch;
      const res = await this.options.client.request(`${url}/internal/replica/epoch-end`, {
        method: 'POST',
        body: { topic, partition, epoch: latest, leaderEpoch: role.epoch },
        deadlineMs: 3000,
        retry: false,
      });
      const answer = res.json<{ errorCode: number; epoch: number; endOffset: number }>();
      if (answer.errorCode !== ErrorCode.NONE)
        throw new Error(`epoch-end answered error ${answer.errorCode}`);
      const cut = truncationOffset(epochs, log.logEndOffset, answer);
      if (cut >= log.logEndOffset) return;
      this.broker.logger.info(
        { topic, partition, from: log.logEndOffset, to: cut },
        'truncating to the leader',
      );
      await log.truncateTo(cut);
    }
  }

  // ---- leader ----

  private leaderRole(topic: string, partition: number, epoch?: number): LeaderRole | null {
    const role = this.roles.get(key(topic, partition));
    if (role?.kind !== 'leader') return null;
    if (epoch !== undefined && role.epoch !== epoch) return null;
    return role;
  }

  private publish(role: LeaderRole, log: PartitionLog): void {
    role.leader.appended(log.writtenEndOffset);
    log.setHighWatermark(role.leader.highWatermark);
  }

  private registerRoutes(): void {
    const app = this.options.app;
    // Once this broker has applied the metadata committed so far (a deletion among it), waits
    // a little for its tombstones of the deleted topic's offsets to reach its ISR: their error
    // code, or null while they are still on their way (the caller asks again).
    app.post('/internal/offsets/forgotten', { schema: { body: ForgottenSchema } }, async (request) => {
      const { topic } = request.body as Static<typeof ForgottenSchema>;
      await this.raft.waitApplied(await this.readIndexWithin(FORGET_POLL_MS));
      const errorCode = await Promise.race([
        this.groupOffsets.forgotten(topic),
        this.sleep(FORGET_POLL_MS).then(() => null),
      ]);
      return { errorCode };
    });
    app.post('/internal/replica/fetch', { schema: { body: FetchRequestSchema } }, async (request) => {
      const b = request.body as FetchRequestBody;
      const log = this.broker.partition(b.topic, b.partition);
      const role = this.leaderRole(b.topic, b.partition);
      if (!log || !role)
        return { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, highWatermark: -1, records: [] };
      if (role.epoch !== b.epoch)
        return { errorCode: ErrorCode.FENCED_LEADER_EPOCH, highWatermark: -1, records: [] };
      this.publish(role, log);
      if (b.fetchOffset > log.writtenEndOffset)
        return { errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, highWatermark: -1, records: [] };
      role.leader.followerFetch(String(b.replica), b.fetchOffset, this.now());
      log.setHighWatermark(role.leader.highWatermark);
      if (log.writtenEndOffset <= b.fetchOffset)
        await this.waitForData(log, b.fetchOffset, role, key(b.topic, b.partition));
      const records = await log.read(b.fetchOffset, FETCH_BYTES_MAX, log.writtenEndOffset);
      return {
        errorCode: ErrorCode.NONE,
        highWatermark: log.highWatermark,
        records: records.map((r) => Buffer.from(r).toString('base64')),
      };
    });
    app.post('/internal/replica/epoch-end', { schema: { body: EpochEndSchema } }, async (request) => {
      const b = request.body as Static<typeof EpochEndSchema>;
      const log = this.broker.partition(b.topic, b.partition);
      const role = this.leaderRole(b.topic, b.partition, b.leaderEpoch);
      if (!log || !role) return { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, epoch: -1, endOffset: -1 };
      return {
        errorCode: ErrorCode.NONE,
        ...endOffsetForEpoch(log.epochStarts(), log.writtenEndOffset, b.epoch),
      };
    });
    app.get('/cluster', async () => ({
      self: this.selfNum,
      raft: this.raft.leadership(),
      // The metadata's Raft leader (the controller) in the shape the lab's landing page reads:
      // this broker's own role, and the leader's as this broker knows it.
      ...this.controllerView(),
      caughtUp: this.caughtUp,
      brokers: this.metadata.brokers(),
      topics: this.metadata.topics().map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p, index) => {
          const log = this.broker.partition(t.name, index);
          return {
            index,
            ...p,
            highWatermark: log?.highWatermark ?? -1,
            logEndOffset: log?.logEndOffset ?? -1,
          };
        }),
      })),
    }));
  }

  private controllerView(): {
    leader: string | null;
    term: number;
    members: { id: string; role: string | null }[];
  } {
    const own = this.raft.leadership();
    return {
      leader: own.leaderId,
      term: own.term,
      members: this.options.peers.map((p) => ({
        id: p.id,
        role: p.id === own.id ? own.role : p.id === own.leaderId ? 'leader' : null,
      })),
    };
  }

  /** A follower's fetch at the log end waits for an append (or its wait, or a role change). */
  private async waitForData(log: PartitionLog, offset: number, role: LeaderRole, k: string): Promise<void> {
    await this.broker.waitUntil(
      () => (log.writtenEndOffset > offset || this.roles.get(k) !== role || this.closed ? true : null),
      this.options.fetchWaitMs,
    );
  }

  /** ISR upkeep of the partitions this broker leads: shrink (lagging) or expand (caught up). */
  private async leaderTick(): Promise<void> {
    if (!this.caughtUp) return;
    const now = this.now();
    const changes: Promise<void>[] = [];
    for (const t of this.metadata.topics()) {
      t.partitions.forEach((state, index) => {
        const role = this.leaderRole(t.name, index, state.leaderEpoch);
        const log = this.broker.partition(t.name, index);
        if (!role || !log || role.altering) return;
        const lagging = new Set(role.leader.laggingReplicas(now));
        const desired = [...role.leader.isr]
          .filter((r) => !lagging.has(r))
          .map(Number)
          .sort((a, b) => a - b);
        if (desired.join(',') === state.isr.join(',')) return;
        role.altering = true;
        changes.push(
          this.propose({
            op: 'alterIsr',
            topic: t.name,
            partition: index,
            leader: this.selfNum,
            leaderEpoch: state.leaderEpoch,
            isr: desired,
          })
            .then((result) => {
              if (!result.ok) return;
              // Only now, with the shrink in the metadata, may the leader stop waiting for them.
              role.leader.dropFromIsr([...lagging]);
              log.setHighWatermark(role.leader.highWatermark);
              this.broker.logger.info({ topic: t.name, partition: index, isr: desired }, 'ISR changed');
            })
            .catch(() => {})
            .finally(() => {
              role.altering = false;
            }),
        );
      });
    }
    await Promise.all(changes);
  }

  // ---- controller (the Raft leader) ----

  private async controllerTick(): Promise<void> {
    if (this.raft.leadership().leaderId !== this.options.selfId || !this.caughtUp) {
      this.controllerSince = -1;
      return;
    }
    const now = this.now();
    if (this.controllerSince < 0) {
      // A new controller gives every broker a full session before judging it.
      this.controllerSince = now;
      for (const n of this.urls.keys()) this.lastSeen.set(n, now);
    }
    await Promise.all(
      [...this.urls].map(async ([n, url]) => {
        if (n === this.selfNum) {
          this.lastSeen.set(n, now);
          return;
        }
        try {
          const res = await this.options.client.request(`${url}/health`, { deadlineMs: 500, retry: false });
          if (res.status === 200) this.lastSeen.set(n, this.now());
        } catch {
          // not seen
        }
      }),
    );
    const alive = (n: number) =>
      this.now() - (this.lastSeen.get(n) ?? -Infinity) < this.options.sessionTimeoutMs;
    for (const command of electionsFor(this.metadata, alive)) {
      const result = await this.propose(command).catch(() => null);
      if (result?.ok)
        this.broker.logger.warn(
          {
            topic: command.topic,
            partition: command.partition,
            leader: command.leader,
            epoch: command.leaderEpoch + 1,
          },
          'controller elected a partition leader',
        );
    }
  }

  // ---- ReplicationHooks: what the Kafka handlers ask ----

  leaderError(topic: string, partition: number): number {
    const state = this.metadata.partition(topic, partition);
    if (!state) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    if (state.leader === -1) return ErrorCode.LEADER_NOT_AVAILABLE;
    return this.leaderRole(topic, partition, state.leaderEpoch)
      ? ErrorCode.NONE
      : ErrorCode.NOT_LEADER_OR_FOLLOWER;
  }

  leaderEpoch(topic: string, partition: number): number {
    return this.leaderRole(topic, partition)?.epoch ?? -1;
  }

  canAcceptAcksAll(topic: string, partition: number): boolean {
    return this.leaderRole(topic, partition)?.leader.canAcceptAcksAll() ?? false;
  }

  async afterAppend(
    topic: string,
    partition: number,
    endOffset: number,
    acks: number,
    timeoutMs: number,
  ): Promise<number> {
    const role = this.leaderRole(topic, partition);
    const log = this.broker.partition(topic, partition);
    if (!role || !log) return ErrorCode.NOT_LEADER_OR_FOLLOWER;
    this.publish(role, log);
    if (acks !== -1) return ErrorCode.NONE;
    const check = (): number | null => {
      if (this.roles.get(key(topic, partition)) !== role || this.closed)
        return ErrorCode.NOT_LEADER_OR_FOLLOWER;
      return role.leader.acknowledged(endOffset) ? ErrorCode.NONE : null;
    };
    const first = check();
    if (first !== null) return first;
    return (await this.broker.waitUntil(check, Math.max(timeoutMs, 100))) ?? ErrorCode.REQUEST_TIMED_OUT;
  }

  brokers(): { nodeId: number; host: string; port: number }[] {
    return this.metadata.brokers().map((b) => ({ nodeId: b.id, host: b.host, port: b.kafkaPort }));
  }

  controllerId(): number {
    const id = this.raft.leadership().leaderId;
    return id === null ? -1 : numericId(id);
  }

  topicNames(): string[] {
    return this.metadata.topics().map((t) => t.name);
  }

  partitionRoles(topic: string) {
    const t = this.metadata.topic(topic);
    if (!t) return null;
    return t.partitions.map((p) => ({
      errorCode: p.leader === -1 ? ErrorCode.LEADER_NOT_AVAILABLE : ErrorCode.NONE,
      leaderId: p.leader,
      leaderEpoch: p.leaderEpoch,
      replicaNodes: p.replicas,
      isrNodes: p.isr,
    }));
  }

  async createTopic(name: string, partitions: number, configs: Record<string, string>): Promise<number> {
    try {
      const result = await this.propose({
        op: 'createTopic',
        name,
        partitions,
        configs,
        replicas: [...this.urls.keys()],
      });
      return result.ok ? ErrorCode.NONE : ErrorCode.TOPIC_ALREADY_EXISTS;
    } catch {
      return ErrorCode.REQUEST_TIMED_OUT;
    }
  }

  /** Answered once the deletion is committed and the current leader of every offsets
   *  partition has its tombstones for the topic's committed offsets in its ISR (REQUEST_TIMED_OUT
   *  otherwise: the topic is gone, its offsets may still be on their way out; a retry answers
   *  the topic unknown). */
  async deleteTopic(name: string): Promise<number> {
    try {
      const result = await this.propose({ op: 'deleteTopic', name });
      if (!result.ok) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    } catch {
      return ErrorCode.REQUEST_TIMED_OUT;
    }
    const deadline = this.now() + FORGET_TIMEOUT_MS;
    const partitions = this.partitionRoles(OFFSETS_TOPIC)?.length ?? 0;
    const codes = await Promise.all(
      Array.from({ length: partitions }, (_, p) => this.tombstonesSettled(name, p, deadline)),
    );
    if (codes.every((c) => c === ErrorCode.NONE)) return ErrorCode.NONE;
    this.broker.logger.warn(
      { topic: name, codes },
      'deleted topic: offset tombstones not in the ISR in time',
    );
    return ErrorCode.REQUEST_TIMED_OUT;
  }

  /** Asks the leader of offsets partition `p` whether its tombstones for `topic` are in its ISR,
   *  again while they are on their way, and of the next leader when it is down or has moved
   *  (that one drops the deleted topic's offsets as it loads the partition). */
  private async tombstonesSettled(topic: string, p: number, deadline: number): Promise<number> {
    const askLeader = async (): Promise<number | undefined> => {
      const url = this.urls.get(this.partitionRoles(OFFSETS_TOPIC)?.[p]?.leaderId ?? -1);
      if (!url) return undefined;
      try {
        const res = await this.options.client.request(`${url}/internal/offsets/forgotten`, {
          method: 'POST',
          body: { topic },
          deadlineMs: 2 * FORGET_POLL_MS,
          retry: false,
        });
        const { errorCode } = res.json<{ errorCode: number | null }>();
        return errorCode === null || errorCode === ErrorCode.NOT_COORDINATOR ? undefined : errorCode;
      } catch {
        return undefined; // down or paused: the controller elects another leader, asked next time round
      }
    };
    try {
      return await pollUntil(askLeader, {
        timeoutMs: Math.max(0, deadline - this.now()),
        intervalMs: RETRY_MS,
        what: `the tombstones of ${topic} in offsets partition ${p}`,
        clock: this.broker.clock,
      });
    } catch (err) {
      if (err instanceof PollTimeoutError) return ErrorCode.REQUEST_TIMED_OUT;
      throw err;
    }
  }

  replicationFactor(): number {
    return this.urls.size;
  }

  locateCoordinator(
    groupId: string,
  ): Promise<{ errorCode: number; nodeId: number; host: string; port: number }> {
    return this.groupOffsets.locate(groupId);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) t.cancel();
    this.broker.wakeWaiters();
    for (const role of this.roles.values()) if (role.kind === 'follower') role.stopped = true;
    await Promise.all([...this.roles.values()].map((r) => (r.kind === 'follower' ? r.done : undefined)));
    await this.raft?.stop();
  }
}
