// The peer stream's frames (FORMAT.md, "The wire"): whatever chunks TCP cuts a stream into,
// the reader gives back the payloads in order; a flipped byte or an oversized length ends it.
import { SeededRandom } from '@ddia/common';
import { describe, expect, it } from 'vitest';
import { BadFrameError, encodeFrame, FrameReader } from '../src/node/frame.js';

describe('peer stream frames', () => {
  it('reassembles payloads from chunks cut anywhere (seeded)', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const random = new SeededRandom(seed);
      const payloads = Array.from({ length: random.int(1, 12) }, (_, i) =>
        Buffer.from(
          JSON.stringify({ messages: [{ type: 'append', i, pad: 'x'.repeat(random.int(0, 3000)) }] }),
        ),
      );
      const stream = Buffer.concat(payloads.map(encodeFrame));
      const reader = new FrameReader();
      const out: Buffer[] = [];
      for (let at = 0; at < stream.length; ) {
        const size = random.int(1, 700);
        out.push(...reader.push(stream.subarray(at, at + size)));
        at += size;
      }
      expect(out.map((b) => b.toString())).toEqual(payloads.map((b) => b.toString()));
    }
  });

  it('refuses a frame whose payload does not match its checksum', () => {
    const frame = encodeFrame(Buffer.from('{"messages":[]}'));
    frame[frame.length - 2] ^= 0x01;
    expect(() => new FrameReader().push(frame)).toThrow(BadFrameError);
  });

  it('refuses a length over the limit before buffering it', () => {
    const header = Buffer.alloc(8);
    header.writeUInt32LE(1_000_001, 0);
    expect(() => new FrameReader(1_000_000).push(header)).toThrow(/exceeds/);
  });
});
