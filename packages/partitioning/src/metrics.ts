// The chapter's own metrics, beside createService's defaults.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export class PartitionMetrics {
  readonly requests: Counter<'op' | 'outcome'>;
  readonly forwarded: Counter<'op'>;
  readonly wrongOwner: Counter;
  readonly partitionRequests: Counter<'partition'>;
  readonly moves: Counter<'outcome'>;
  readonly keysCopied: Counter;
  readonly keysFed: Counter;
  readonly bytesCopied: Counter;
  readonly movesInProgress: Gauge;
  readonly moveFrozen: Histogram;
  readonly moveStage: Histogram<'stage'>;
  readonly epoch: Gauge;
  readonly partitionsOwned: Gauge;
  readonly outboxEntries: Gauge;
  readonly globalIndexLag: Histogram;
  readonly indexQueries: Counter<'index' | 'kind'>;
  readonly indexPartitionsAsked: Counter<'index' | 'kind'>;
  readonly hotKeyWrites: Counter<'key'>;
  readonly replicaPushes: Counter<'outcome'>;
  readonly learnerFeeds: Counter<'outcome'>;
  readonly failovers: Counter;
  readonly splits: Counter<'reason'>;
  readonly merges: Counter<'kind'>;

  constructor(
    registry: Registry,
    sample: { epoch: () => number; owned: () => number; moving: () => number },
  ) {
    const registers = [registry];
    this.requests = new Counter({
      name: 'partitioning_requests_total',
      help: 'client key operations served here, by op and outcome',
      labelNames: ['op', 'outcome'],
      registers,
    });
    this.learnerFeeds = new Counter({
      name: 'partitioning_learner_feeds_total',
      help: "changes this node sent to a moving partition's target before acknowledging them (ok), or that ended the feed (failed)",
      labelNames: ['outcome'],
      registers,
    });
    this.replicaPushes = new Counter({
      name: 'partitioning_replica_pushes_total',
      help: 'changes this owner pushed to a follower before acknowledging a write, by outcome',
      labelNames: ['outcome'],
      registers,
    });
    this.failovers = new Counter({
      name: 'partitioning_failovers_total',
      help: 'partitions this node, as controller leader, handed to a follower of a dead owner',
      registers,
    });
    this.splits = new Counter({
      name: 'partitioning_splits_total',
      help: 'range partitions this node split, by reason: size (past --split-keys) or load (past --split-rps)',
      labelNames: ['reason'],
      registers,
    });
    this.merges = new Counter({
      name: 'partitioning_merges_total',
      help: 'small neighbour ranges this node merged (kind merge) or asked to bring to one node first (kind colocate)',
      labelNames: ['kind'],
      registers,
    });
    this.forwarded = new Counter({
      name: 'partitioning_forwarded_total',
      help: 'requests this node forwarded to the owner of the key',
      labelNames: ['op'],
      registers,
    });
    this.wrongOwner = new Counter({
      name: 'partitioning_wrong_owner_total',
      help: 'requests refused with 421 because this node does not own the partition',
      registers,
    });
    this.partitionRequests = new Counter({
      name: 'partitioning_partition_requests_total',
      help: 'key operations served per partition (load per partition: find hot spots)',
      labelNames: ['partition'],
      registers,
    });
    this.moves = new Counter({
      name: 'partitioning_moves_total',
      help: 'partition moves run by this node as controller leader, by outcome',
      labelNames: ['outcome'],
      registers,
    });
    this.keysCopied = new Counter({
      name: 'partitioning_keys_copied_total',
      help: 'keys and changes copied into this node by partition moves',
      registers,
    });
    this.keysFed = new Counter({
      name: 'partitioning_keys_fed_total',
      help: "changes this node took as a moving partition's target while the owner served (the learner feed; not counted in keys copied)",
      registers,
    });
    this.bytesCopied = new Counter({
      name: 'partitioning_bytes_copied_total',
      help: 'bytes received by this node while copying partitions',
      registers,
    });
    this.moveFrozen = new Histogram({
      name: 'partitioning_move_frozen_seconds',
      help: 'per finished move run by this node as controller leader: freeze proposed to flip committed (the partition takes no requests at its owner meanwhile)',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.moveStage = new Histogram({
      name: 'partitioning_move_stage_seconds',
      help: 'per finished move run by this node as controller leader: time in each stage (what the frozen window is made of)',
      labelNames: ['stage'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers,
    });
    this.movesInProgress = new Gauge({
      name: 'partitioning_moves_in_progress',
      help: "partitions whose owner differs from their target in this node's configuration",
      registers,
      collect() {
        this.set(sample.moving());
      },
    });
    this.epoch = new Gauge({
      name: 'partitioning_config_epoch',
      help: 'the configuration epoch this node has applied',
      registers,
      collect() {
        this.set(sample.epoch());
      },
    });
    this.outboxEntries = new Gauge({
      name: 'partitioning_global_index_outbox_entries',
      help: 'global index updates waiting in this node outbox (as of the last delivery round, at most one batch)',
      registers,
    });
    this.globalIndexLag = new Histogram({
      name: 'partitioning_global_index_lag_seconds',
      help: 'time from a document write to its global index posting being stored',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.indexQueries = new Counter({
      name: 'partitioning_index_queries_total',
      help: 'secondary index queries answered by this node, by index and kind',
      labelNames: ['index', 'kind'],
      registers,
    });
    this.indexPartitionsAsked = new Counter({
      name: 'partitioning_index_partitions_asked_total',
      help: 'partitions asked by secondary index queries (local: all of them; global: one)',
      labelNames: ['index', 'kind'],
      registers,
    });
    this.hotKeyWrites = new Counter({
      name: 'partitioning_salted_writes_total',
      help: 'increments of a declared hot key, spread over its salted sub-keys',
      labelNames: ['key'],
      registers,
    });
    this.partitionsOwned = new Gauge({
      name: 'partitioning_partitions_owned',
      help: 'partitions this node owns',
      registers,
      collect() {
        this.set(sample.owned());
      },
    });
  }
}

/**
 * The controller group's Raft metrics go under this prefix with the names every lab Raft member
 * uses (common's registerRaftMetrics): monitoring's /raft/<job> page finds the cluster by
 * `partitioning_controller_raft_term`. The group holds the partition map, not the keys.
 */
export const RAFT_PREFIX = 'partitioning_controller';
