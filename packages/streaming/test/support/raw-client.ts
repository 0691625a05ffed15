// A bare Kafka-protocol connection for tests that must send exact bytes (garbage, a wrong CRC,
// a retried batch): write a frame, read one response frame, or see the connection close.
import net from 'node:net';
import { Reader, Writer } from '../../src/core/index.js';
import { frameRequest } from '../../src/protocol/header.js';

export class RawConnection {
  private buffered = Buffer.alloc(0);
  private waiting: (() => void) | null = null;
  closed = false;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.waiting?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiting?.();
    });
    socket.on('error', () => {});
  }

  static connect(bootstrap: string): Promise<RawConnection> {
    const [host, port] = bootstrap.split(':');
    return new Promise((resolve, reject) => {
      const socket = net.connect(Number(port), host!, () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Sends a request (header v1) and returns the response body after the correlation id. */
  async request(
    apiKey: number,
    apiVersion: number,
    body: Uint8Array,
    correlationId = 7,
    timeoutMs?: number,
  ): Promise<Reader> {
    this.write(frameRequest({ apiKey, apiVersion, correlationId, clientId: 'raw' }, body));
    const frame = await this.readFrame(timeoutMs);
    const reader = new Reader(frame);
    const echoed = reader.int32();
    if (echoed !== correlationId) throw new Error(`correlation id ${echoed}, expected ${correlationId}`);
    return reader;
  }

  async readFrame(timeoutMs = 10_000): Promise<Uint8Array> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.buffered.length >= 4) {
        const size = this.buffered.readInt32BE(0);
        if (this.buffered.length >= 4 + size) {
          const frame = this.buffered.subarray(4, 4 + size);
          this.buffered = this.buffered.subarray(4 + size);
          return new Uint8Array(frame);
        }
      }
      if (this.closed) throw new Error('connection closed');
      if (Date.now() > deadline) throw new Error('no response');
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
        setTimeout(resolve, 100);
      });
    }
  }

  /** Resolves true once the broker closed the connection (within the timeout). */
  async waitClosed(timeoutMs = 10_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A Produce v7 request body for one partition. */
export function produceBody(topic: string, partition: number, records: Uint8Array, acks = -1): Uint8Array {
  const w = new Writer();
  w.nullableString(null).int16(acks).int32(5000);
  w.array([topic], (w, t) => {
    w.string(t);
    w.array([partition], (w, p) => w.int32(p).nullableBytes(records));
  });
  return w.bytes();
}

/** Reads a Produce v7 response with one topic and one partition. */
export function readProduceResponse(r: Reader): { errorCode: number; baseOffset: number } {
  r.int32(); // topics
  r.string();
  r.int32(); // partitions
  r.int32();
  const errorCode = r.int16();
  const baseOffset = r.int64();
  return { errorCode, baseOffset };
}
