// The chapter's own metrics, beside createService's defaults.
import { Counter, Gauge, type Registry } from 'prom-client';

export class PartitionMetrics {
  readonly requests: Counter<'op' | 'outcome'>;
  readonly forwarded: Counter<'op'>;
  readonly wrongOwner: Counter;
  readonly partitionRequests: Counter<'partition'>;
  readonly moves: Counter<'outcome'>;
  readonly keysCopied: Counter;
  readonly bytesCopied: Counter;
  readonly movesInProgress: Gauge;
  readonly epoch: Gauge;
  readonly partitionsOwned: Gauge;

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
    this.bytesCopied = new Counter({
      name: 'partitioning_bytes_copied_total',
      help: 'bytes received by this node while copying partitions',
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
