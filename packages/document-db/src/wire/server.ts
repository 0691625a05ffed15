// The MongoDB wire-protocol listener: frames in, commands out. One connection's messages are
// handled in order; a frame that cannot be parsed closes that connection and nothing else.
import net from 'node:net';
import type { Doc } from '../core/values.js';
import type { DocumentDatabase } from '../storage/database.js';
import {
  encodeMsgReply,
  encodeOpReply,
  FLAG_MORE_TO_COME,
  HEADER_BYTES,
  ProtocolError,
  parseRequest,
  type RawReply,
  readHeader,
} from './codec.js';
import { type CommandContext, runCommand } from './commands.js';
import { CursorTable } from './cursors.js';

/** How often idle cursors are looked for (at most; sooner for short timeouts). */
const CURSOR_SWEEP_MS_MAX = 60_000;

export interface WireOptions {
  cursorTimeoutMs: number;
}

export class WireServer {
  private readonly server: net.Server;
  readonly cursors: CursorTable;
  private readonly sockets = new Set<net.Socket>();
  private readonly sweeper: NodeJS.Timeout;
  private nextConnectionId = 1;
  private nextRequestId = 1;
  /** Frames refused as malformed (for tests and metrics). */
  malformed = 0;

  constructor(
    private readonly engine: DocumentDatabase,
    options: WireOptions,
  ) {
    this.cursors = new CursorTable(options.cursorTimeoutMs, () => performance.now());
    this.server = net.createServer((socket) => this.accept(socket));
    this.sweeper = setInterval(
      () => this.cursors.sweep(),
      Math.min(CURSOR_SWEEP_MS_MAX, options.cursorTimeoutMs),
    );
    this.sweeper.unref();
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve((this.server.address() as net.AddressInfo).port));
    });
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const context: CommandContext = {
      engine: this.engine,
      cursors: this.cursors,
      connectionId: this.nextConnectionId++,
      nowMs: () => performance.now(),
    };
    let buffered: Buffer = Buffer.alloc(0);
    let queue = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      try {
        while (buffered.length >= HEADER_BYTES) {
          const { length } = readHeader(buffered);
          if (buffered.length < length) break;
          const frame = buffered.subarray(0, length);
          buffered = buffered.subarray(length);
          // Parsed in place: BSON decoding copies what it keeps, so the frame needs no copy.
          const request = parseRequest(frame);
          queue = queue.then(() => this.answer(socket, request, context));
        }
      } catch (error) {
        this.refuse(socket, error);
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.sockets.delete(socket));
  }

  private refuse(socket: net.Socket, error: unknown): void {
    if (!(error instanceof ProtocolError)) throw error;
    this.malformed++;
    socket.destroy();
  }

  private async answer(
    socket: net.Socket,
    request: ReturnType<typeof parseRequest>,
    context: CommandContext,
  ): Promise<void> {
    if (socket.destroyed) return;
    let reply: Doc | RawReply;
    try {
      const command = request.command;
      if (request.kind === 'query') {
        // Legacy OP_QUERY carries the database in "<db>.$cmd" and is only used for the handshake.
        const db = request.collection.split('.')[0] ?? 'admin';
        reply = await runCommand({ ...command, $db: db }, context);
      } else reply = await runCommand(command, context);
    } catch (error) {
      reply = {
        ok: 0,
        errmsg: `internal error: ${(error as Error).message}`,
        code: 1,
        codeName: 'InternalError',
      };
    }
    if (request.kind === 'msg' && request.flags & FLAG_MORE_TO_COME) return;
    const requestId = this.nextRequestId++;
    const bytes =
      request.kind === 'query'
        ? encodeOpReply(requestId, request.header.requestId, reply)
        : encodeMsgReply(requestId, request.header.requestId, reply);
    socket.write(bytes);
  }
}
