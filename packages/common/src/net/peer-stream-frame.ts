// Length-prefixed, checksummed frames on a peer stream (common's README, "Peer streams"):
//   u32 LE payload length | u32 LE CRC32C(payload) | payload
// TCP checks its own segments; the CRC is for what TCP cannot see: a proxy or a bug that drops
// or duplicates bytes would shift every later frame and feed the receiver garbage that happens
// to parse. A bad frame ends the connection; the sender dials again and the protocol above
// (Raft, replication) resends what it needs. Little-endian like the rest of the lab's wire and
// log formats, since every reader and writer is x86/ARM little-endian Node.
import { crc32c } from '../core/crc32c.js';

export const FRAME_HEADER_BYTES = 8;
/** The largest payload a receiver accepts unless told otherwise. */
export const FRAME_PAYLOAD_BYTES_MAX = 64 * 1024 * 1024;

/** A frame that cannot be trusted: checksum mismatch, oversized length, or an undecodable payload. */
export class PeerStreamFrameError extends Error {
  readonly code = 'DDIA_ERR_PEER_STREAM_BAD_FRAME';
}

/** Fills in the header of a buffer whose payload starts at FRAME_HEADER_BYTES (encoders reserve it). */
export function sealFrame(frame: Buffer): Buffer {
  const payload = frame.subarray(FRAME_HEADER_BYTES);
  frame.writeUInt32LE(payload.length, 0);
  frame.writeUInt32LE(crc32c(payload), 4);
  return frame;
}

/** A frame around a payload that has no header room (one copy). */
export function encodeFrame(payload: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  frame.set(payload, FRAME_HEADER_BYTES);
  return sealFrame(frame);
}

/**
 * Reassembles frames from stream chunks of any size; `push` returns the complete payloads, in
 * order. A frame wholly inside one chunk is returned without a copy.
 */
export class FrameReader {
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerFill = 0;
  private payload: Buffer | null = null;
  private payloadFill = 0;
  private expectedCrc = 0;

  constructor(private readonly payloadBytesMax = FRAME_PAYLOAD_BYTES_MAX) {}

  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.payload === null) {
        if (this.headerFill === 0 && chunk.length - at >= FRAME_HEADER_BYTES) {
          const length = this.checkLength(chunk.readUInt32LE(at));
          if (chunk.length - at - FRAME_HEADER_BYTES >= length) {
            const crc = chunk.readUInt32LE(at + 4);
            const payload = chunk.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + length);
            out.push(this.verify(payload, crc));
            at += FRAME_HEADER_BYTES + length;
            continue;
          }
        }
        const n = Math.min(FRAME_HEADER_BYTES - this.headerFill, chunk.length - at);
        chunk.copy(this.header, this.headerFill, at, at + n);
        this.headerFill += n;
        at += n;
        if (this.headerFill < FRAME_HEADER_BYTES) break;
        this.headerFill = 0;
        this.payload = Buffer.allocUnsafe(this.checkLength(this.header.readUInt32LE(0)));
        this.payloadFill = 0;
        this.expectedCrc = this.header.readUInt32LE(4);
        if (this.payload.length === 0) {
          out.push(this.verify(this.payload, this.expectedCrc));
          this.payload = null;
          continue;
        }
      }
      const n = Math.min(this.payload.length - this.payloadFill, chunk.length - at);
      chunk.copy(this.payload, this.payloadFill, at, at + n);
      this.payloadFill += n;
      at += n;
      if (this.payloadFill === this.payload.length) {
        out.push(this.verify(this.payload, this.expectedCrc));
        this.payload = null;
      }
    }
    return out;
  }

  private checkLength(length: number): number {
    if (length > this.payloadBytesMax)
      throw new PeerStreamFrameError(`frame of ${length} bytes exceeds ${this.payloadBytesMax}`);
    return length;
  }

  private verify(payload: Buffer, crc: number): Buffer {
    if (crc32c(payload) !== crc) throw new PeerStreamFrameError('frame checksum mismatch');
    return payload;
  }
}
