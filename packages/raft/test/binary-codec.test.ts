// The peer-stream encoding: any batch of messages survives encode -> frames cut at arbitrary
// points -> decode unchanged; damaged or hostile bytes are refused with RaftBadRequestError,
// never another exception and never a wrong message.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeMessages,
  type Entry,
  encodeMessages,
  FRAME_HEADER_BYTES,
  FrameReader,
  MESSAGE_TYPES,
  type Message,
  type MessageType,
  RaftBadRequestError,
  sealFrame,
} from '../src/index.js';

/** Snapshots never travel on the message stream; every other type does. */
const TYPES = MESSAGE_TYPES.filter((t): t is Exclude<MessageType, 'snap'> => t !== 'snap');
const index = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const nodeId = fc.string({ minLength: 1, maxLength: 20 });

const message: fc.Arbitrary<Message> = fc
  .record({
    type: fc.constantFrom(...TYPES),
    from: nodeId,
    to: nodeId,
    term: index,
    logTerm: index,
    index: fc.integer({ min: 0, max: 1e12 }),
    commit: index,
    reject: fc.boolean(),
    hintIndex: index,
    hintTerm: index,
    context: fc.string({ maxLength: 40 }),
    entries: fc.array(
      fc.record({
        term: index,
        type: fc.constantFrom('normal' as const, 'noop' as const, 'conf' as const),
        data: fc.uint8Array({ maxLength: 300 }),
      }),
      { maxLength: 6 },
    ),
  })
  .map((m) => ({
    ...m,
    entries: m.entries.map((e, k): Entry => ({ ...e, index: m.index + 1 + k })),
  }));

describe('binary message codec and frames', () => {
  it('round-trips any batch through frames split at any points', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(message, { maxLength: 5 }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }),
        (batches, cuts) => {
          const stream = Buffer.concat(batches.map((b) => sealFrame(encodeMessages(b, FRAME_HEADER_BYTES))));
          const reader = new FrameReader();
          const decoded: Message[][] = [];
          let at = 0;
          for (let k = 0; at < stream.length; k++) {
            const size = cuts[k % cuts.length] as number;
            for (const payload of reader.push(stream.subarray(at, at + size)))
              decoded.push(decodeMessages(payload));
            at += size;
          }
          expect(decoded).toEqual(batches);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses truncated, extended and random bytes with RaftBadRequestError only', () => {
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 3 }), fc.nat(), (batch, cut) => {
        const payload = encodeMessages(batch);
        const truncated = payload.subarray(0, cut % payload.length);
        expect(() => decodeMessages(truncated)).toThrow(RaftBadRequestError);
        expect(() => decodeMessages(Buffer.concat([payload, Buffer.of(0)]))).toThrow(RaftBadRequestError);
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeMessages(Buffer.from(bytes));
        } catch (error) {
          expect(error).toBeInstanceOf(RaftBadRequestError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses a non-integer index, a gap between entries and a snapshot on the stream', () => {
    const base: Message = {
      type: 'app',
      from: 'n1',
      to: 'n2',
      term: 2,
      logTerm: 1,
      index: 4,
      commit: 3,
      reject: false,
      hintIndex: 0,
      hintTerm: 0,
      context: '',
      entries: [{ index: 5, term: 2, type: 'normal', data: Uint8Array.of(1) }],
    };
    const fractional = encodeMessages([{ ...base, term: 2.5 }]);
    expect(() => decodeMessages(fractional)).toThrow(/term must be a non-negative integer/);
    const gap = encodeMessages([{ ...base, entries: [{ ...base.entries[0]!, index: 7 }] }]);
    expect(() => decodeMessages(gap)).toThrow(/consecutively/);
    expect(() => encodeMessages([{ ...base, type: 'snap' }])).toThrow(RaftBadRequestError);
  });

  it('a frame with a bad checksum or an oversized length is refused', () => {
    const frame = sealFrame(encodeMessages([], FRAME_HEADER_BYTES));
    frame[4] ^= 1;
    expect(() => new FrameReader().push(frame)).toThrow(/checksum/);
    const huge = Buffer.alloc(FRAME_HEADER_BYTES);
    huge.writeUInt32LE(1024, 0);
    expect(() => new FrameReader(512).push(huge)).toThrow(/exceeds/);
  });
});
