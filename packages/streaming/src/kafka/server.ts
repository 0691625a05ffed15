// The Kafka TCP listener: size-prefixed frames in, size-prefixed responses out, one request at
// a time per connection in arrival order (as a Kafka broker "mutes" a connection while it
// serves one of its requests), so responses leave in request order.
//
// Bad input never takes the broker down: a frame larger than the request limit, a frame that
// does not decode, or a request for an API or version we do not speak closes that connection
// with a log line, which is what a Kafka broker does; other connections carry on.
import net from 'node:net';
import type { Broker } from '../broker/broker.js';
import { FrameDecodeError } from '../core/index.js';
import { decodeRequestHeader, frameResponse, SIZE_PREFIX_BYTES } from '../protocol/header.js';
import { refusalFor, serve, unsupportedApiVersionsBody } from './dispatch.js';

/** Kafka's socket.request.max.bytes default: the largest request frame accepted. */
export const REQUEST_BYTES_MAX_DEFAULT = 100 * 1024 * 1024;
/** Stop reading from a client that has this many requests queued (back-pressure). */
const QUEUED_FRAMES_MAX = 64;

export interface KafkaServerOptions {
  host: string;
  port: number;
  requestBytesMax?: number;
  /** Sees every request frame (size prefix removed) before it is served: fixture capture. */
  onFrame?: (frame: Uint8Array) => void;
}

export class KafkaServer {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  readonly stats = { connections: 0, requests: 0, closedForBadInput: 0 };

  constructor(
    private readonly broker: Broker,
    private readonly options: KafkaServerOptions,
  ) {
    this.server = net.createServer((socket) => this.accept(socket));
  }

  /** Listens; resolves with the bound port and tells the broker to advertise it. */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject);
        const port = (this.server.address() as net.AddressInfo).port;
        this.broker.port = port;
        resolve(port);
      });
    });
  }

  get openConnections(): number {
    return this.sockets.size;
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    this.stats.connections++;
    socket.setNoDelay(true);
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    const limit = this.options.requestBytesMax ?? REQUEST_BYTES_MAX_DEFAULT;
    let buffered: Buffer[] = [];
    let bufferedBytes = 0;
    const queue: Uint8Array[] = [];
    let serving = false;

    const reject = (reason: string) => {
      this.stats.closedForBadInput++;
      this.broker.logger.warn({ peer, reason }, 'closing Kafka connection: bad request');
      socket.destroy();
    };

    const drain = async () => {
      if (serving) return;
      serving = true;
      try {
        while (queue.length > 0 && !socket.destroyed) {
          const frame = queue.shift()!;
          if (queue.length < QUEUED_FRAMES_MAX / 2 && socket.isPaused()) socket.resume();
          const response = await this.handleFrame(frame, peer, reject);
          if (response && !socket.destroyed) socket.write(response);
        }
      } catch (err) {
        // Not the client's fault (e.g. a partition deleted under a read, a failed disk, which
        // stops its Log taking writes): drop this connection, keep serving the others.
        this.broker.logger.error({ err, peer }, 'request failed inside the broker');
        socket.destroy();
      } finally {
        serving = false;
      }
    };

    // A frame's chunks are joined once, when the whole frame is in: a 100 KiB produce arrives
    // in several reads, and joining at every read would copy it again each time.
    let frameSize = -1;
    socket.on('data', (chunk: Buffer) => {
      buffered.push(chunk);
      bufferedBytes += chunk.length;
      for (;;) {
        if (bufferedBytes < SIZE_PREFIX_BYTES) return;
        if (frameSize < 0) {
          if (buffered[0]!.length < SIZE_PREFIX_BYTES) buffered = [Buffer.concat(buffered, bufferedBytes)];
          frameSize = buffered[0]!.readInt32BE(0);
          if (frameSize < 0 || frameSize > limit) {
            reject(`request frame of ${frameSize} bytes exceeds socket.request.max.bytes (${limit})`);
            return;
          }
        }
        if (bufferedBytes < SIZE_PREFIX_BYTES + frameSize) return;
        const all = buffered.length === 1 ? buffered[0]! : Buffer.concat(buffered, bufferedBytes);
        queue.push(all.subarray(SIZE_PREFIX_BYTES, SIZE_PREFIX_BYTES + frameSize));
        const rest = all.subarray(SIZE_PREFIX_BYTES + frameSize);
        buffered = rest.length > 0 ? [rest] : [];
        bufferedBytes = rest.length;
        frameSize = -1;
        if (queue.length >= QUEUED_FRAMES_MAX) socket.pause();
        void drain();
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => this.sockets.delete(socket));
  }

  private async handleFrame(
    frame: Uint8Array,
    peer: string,
    reject: (reason: string) => void,
  ): Promise<Uint8Array | null> {
    this.stats.requests++;
    this.options.onFrame?.(frame);
    let decoded: ReturnType<typeof decodeRequestHeader>;
    try {
      decoded = decodeRequestHeader(frame);
    } catch (err) {
      if (err instanceof FrameDecodeError) {
        reject(`request header does not decode: ${err.message}`);
        return null;
      }
      throw err;
    }
    const { header, body } = decoded;
    const refusal = refusalFor(header);
    if (refusal?.kind === 'unsupported-api-versions')
      return frameResponse(header.correlationId, unsupportedApiVersionsBody());
    if (refusal) {
      reject(refusal.reason);
      return null;
    }
    try {
      const response = await serve(this.broker, { header, clientHost: peer.replace(/:\d+$/, '') }, body);
      return response === null ? null : frameResponse(header.correlationId, response);
    } catch (err) {
      if (err instanceof FrameDecodeError) {
        reject(`request (api ${header.apiKey} v${header.apiVersion}) does not decode: ${err.message}`);
        return null;
      }
      throw err;
    }
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
