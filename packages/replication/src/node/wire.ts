// The payload of a peer-stream frame (FORMAT.md, "The wire"): a batch of core messages.
//   UTF-8 JSON {"messages":[{type, ...}, ...]}
// The frame around it (length, CRC32C) is common's peer stream.
import { PeerStreamFrameError } from '@ddia/common';

export const MESSAGES_PER_BATCH_MAX = 100_000;

/** Encodes a batch after `headerBytes` bytes left for the frame header (no second copy). */
export function encodeBatch(messages: readonly unknown[], headerBytes: number): Buffer {
  const text = JSON.stringify({ messages });
  const out = Buffer.allocUnsafe(headerBytes + Buffer.byteLength(text));
  out.write(text, headerBytes);
  return out;
}

/** Decodes a batch; anything but a batch of typed messages is a bad frame. */
export function decodeBatch(payload: Buffer): unknown[] {
  let batch: unknown;
  try {
    batch = JSON.parse(payload.toString('utf8'));
  } catch {
    throw new PeerStreamFrameError('frame payload is not JSON');
  }
  const messages = (batch as { messages?: unknown } | null)?.messages;
  if (!Array.isArray(messages) || messages.length > MESSAGES_PER_BATCH_MAX)
    throw new PeerStreamFrameError('frame payload is not a message batch');
  for (const m of messages)
    if (typeof m !== 'object' || m === null || typeof (m as { type?: unknown }).type !== 'string')
      throw new PeerStreamFrameError('a message without a type');
  return messages;
}
