// Length-prefixed, checksummed frames on a peer stream (FORMAT.md, "Peer stream"):
//   u32 LE payload length | u32 LE CRC32C(payload) | payload (UTF-8 JSON of a message batch)
// TCP checks its own segments; the CRC catches what TCP cannot see (a proxy or a bug that drops
// or duplicates bytes would shift every later frame). A bad frame ends the connection: the
// sender dials again and the cores resend what was lost. The raft package frames its streams
// the same way (its payload is binary).
import { crc32c } from '@ddia/common';

export const FRAME_HEADER_BYTES = 8;
/** The largest payload a receiver accepts (a single-leader snapshot travels in one frame). */
export const FRAME_PAYLOAD_BYTES_MAX = 128 * 1024 * 1024;

export class BadFrameError extends Error {}

export function encodeFrame(payload: Buffer): Buffer {
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32LE(payload.length, 0);
  header.writeUInt32LE(crc32c(payload), 4);
  return Buffer.concat([header, payload]);
}

/** Reassembles frames from stream chunks of any size; `push` returns the complete payloads. */
export class FrameReader {
  /** Bytes of an incomplete frame, kept as chunks: a big frame is joined once, not per chunk. */
  private chunks: Buffer[] = [];
  private bytes = 0;

  constructor(private readonly payloadBytesMax = FRAME_PAYLOAD_BYTES_MAX) {}

  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    const out: Buffer[] = [];
    while (this.bytes >= FRAME_HEADER_BYTES) {
      let head = this.chunks[0] as Buffer;
      if (head.length < FRAME_HEADER_BYTES) head = this.join();
      const length = head.readUInt32LE(0);
      if (length > this.payloadBytesMax)
        throw new BadFrameError(`frame of ${length} bytes exceeds ${this.payloadBytesMax}`);
      const total = FRAME_HEADER_BYTES + length;
      if (this.bytes < total) break;
      if (head.length < total) head = this.join();
      const payload = head.subarray(FRAME_HEADER_BYTES, total);
      if (crc32c(payload) !== head.readUInt32LE(4)) throw new BadFrameError('frame checksum mismatch');
      out.push(payload);
      const rest = head.subarray(total);
      this.chunks[0] = rest;
      this.bytes -= total;
      if (rest.length === 0) this.chunks.shift();
    }
    return out;
  }

  private join(): Buffer {
    const joined = Buffer.concat(this.chunks, this.bytes);
    this.chunks = [joined];
    return joined;
  }
}
