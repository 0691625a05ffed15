// The peer stream's payload (FORMAT.md, "The wire"); the frame around it is common's, tested
// there (chunking, checksums, redials, refusals).
import { FRAME_HEADER_BYTES, FrameReader, PeerStreamFrameError, sealFrame } from '@ddia/common';
import { describe, expect, it } from 'vitest';
import { decodeBatch, encodeBatch } from '../src/node/wire.js';

describe('peer stream payload', () => {
  it('round-trips a batch through a frame', () => {
    const messages = [
      { type: 'ship', epoch: 2, from: 5, records: [{ key: 'k', value: 'é' }] },
      { type: 'ack', upTo: 9 },
    ];
    const frame = sealFrame(encodeBatch(messages, FRAME_HEADER_BYTES));
    const [payload] = new FrameReader().push(frame);
    expect(decodeBatch(payload as Buffer)).toEqual(messages);
  });

  it.each([
    ['not JSON', '{"messages":['],
    ['not a batch', '[1,2]'],
    ['a message without a type', '{"messages":[{"upTo":1}]}'],
  ])('refuses a payload that is %s', (_what, text) => {
    expect(() => decodeBatch(Buffer.from(text))).toThrow(PeerStreamFrameError);
  });
});
