// Traces on disk: every accepted OTLP export is one record of common's segmented Log in
// <data-dir>/traces/ (length + CRC32C framing, torn tails cut on open: common's FORMAT.md), so
// spans survive a restart; the TraceStore in memory is rebuilt from the log on open and is what
// search reads. Retention drops whole segments, by age (--trace-retention) and by size
// (TRACE_LOG_BYTES_MAX), as Jaeger's and Tempo's stores expire traces by age. Record layout:
// FORMAT.md, "Trace log".
import { type FileSystem, type FsyncPolicy, Log, nodeFileSystem } from '@ddia/common';
import { type SpanRecord, TraceStore } from '../core/traces.js';
import { join } from './files.js';

export const TRACE_RETENTION_DEFAULT_MS = 24 * 60 * 60 * 1000;
/** The log's size cap: past it the oldest segments go, whatever their age. */
export const TRACE_LOG_BYTES_MAX = 256 * 1024 * 1024;
/** Small segments so that retention frees space in steps of this size. */
const TRACE_SEGMENT_BYTES = 4 * 1024 * 1024;

export interface TraceLogOptions {
  dataDir: string;
  retentionMs?: number;
  bytesMax?: number;
  fsync?: FsyncPolicy;
  fsyncIntervalMs?: number;
  fs?: FileSystem;
  /** Wall-clock ms now: records older than the retention are not loaded on open. */
  nowMs: number;
}

interface TraceRecord {
  /** When monitoring accepted the export (wall-clock ms): retention counts from it. */
  receivedMs: number;
  spans: readonly SpanRecord[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The searchable traces, with (data dir) or without (memory only) a log under them. */
export class Traces {
  /** Per record still in the log, oldest first: when it was received and its size. */
  private readonly records: { receivedMs: number; bytes: number }[] = [];
  private logBytes = 0;
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly store: TraceStore,
    private readonly log: Log | null,
    private readonly retentionMs: number,
    private readonly bytesMax: number,
  ) {}

  static memory(store = new TraceStore()): Traces {
    return new Traces(store, null, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY);
  }

  static async open(options: TraceLogOptions, store = new TraceStore()): Promise<Traces> {
    const log = await Log.open({
      dir: join(options.dataDir, 'traces'),
      segmentBytesMax: TRACE_SEGMENT_BYTES,
      fsync: options.fsync ?? 'interval',
      ...(options.fsyncIntervalMs !== undefined ? { fsyncIntervalMs: options.fsyncIntervalMs } : {}),
      fs: options.fs ?? nodeFileSystem,
    });
    const traces = new Traces(
      store,
      log,
      options.retentionMs ?? TRACE_RETENTION_DEFAULT_MS,
      options.bytesMax ?? TRACE_LOG_BYTES_MAX,
    );
    const cutoff = options.nowMs - traces.retentionMs;
    for await (const { record } of log.entries(log.firstIndex)) {
      const r = JSON.parse(decoder.decode(record)) as TraceRecord;
      traces.records.push({ receivedMs: r.receivedMs, bytes: record.length });
      traces.logBytes += record.length;
      if (r.receivedMs >= cutoff) store.add(r.spans);
    }
    return traces;
  }

  /** Serializes appends and retention on the log. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => {});
    return run;
  }

  /**
   * Logs one export's spans, then makes them searchable; resolves once written under the log's
   * fsync policy (the OTLP answer waits for it).
   */
  add(spans: readonly SpanRecord[], receivedMs: number): Promise<void> {
    if (spans.length === 0) return Promise.resolve();
    const log = this.log;
    if (log === null) {
      this.store.add(spans);
      return Promise.resolve();
    }
    return this.exclusive(async () => {
      const record = encoder.encode(JSON.stringify({ receivedMs, spans } satisfies TraceRecord));
      await log.append(record);
      this.records.push({ receivedMs, bytes: record.length });
      this.logBytes += record.length;
      this.store.add(spans);
    });
  }

  /**
   * Retention: forgets traces that ended before `nowMs - retention` and drops the log's
   * segments holding only older records, or the oldest ones while the log is over its size cap.
   */
  compact(nowMs: number): Promise<void> {
    const cutoff = nowMs - this.retentionMs;
    this.store.dropEndedBefore(cutoff);
    const log = this.log;
    if (log === null) return Promise.resolve();
    return this.exclusive(async () => {
      let keepFrom = 0;
      let bytes = this.logBytes;
      while (
        keepFrom < this.records.length &&
        (this.records[keepFrom]!.receivedMs < cutoff || bytes > this.bytesMax)
      ) {
        bytes -= this.records[keepFrom]!.bytes;
        keepFrom++;
      }
      if (keepFrom === 0) return;
      const first = log.firstIndex;
      await log.dropPrefix(first + keepFrom);
      // Segment granularity: the log may still hold some of the records asked to go.
      const dropped = log.firstIndex - first;
      for (const r of this.records.splice(0, dropped)) this.logBytes -= r.bytes;
    });
  }

  sync(): Promise<void> {
    return this.log === null ? Promise.resolve() : this.exclusive(() => this.log!.sync());
  }

  close(): Promise<void> {
    return this.log === null ? Promise.resolve() : this.exclusive(() => this.log!.close());
  }
}
