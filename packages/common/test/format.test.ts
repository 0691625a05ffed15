// FORMAT.md's example record is a fixture: the bytes the Log writes must equal the documented
// ones byte for byte, and the reader must take them back, so code and document cannot drift.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatFixtures, hex } from '@ddia/testkit';
import { describe, expect, it } from 'vitest';
import { Log } from '../src/index.js';
import { checkHeader, encodeRecords, RECORD_HEADER_BYTES } from '../src/storage/log-format.js';

const { fixture, fixtureBytes } = formatFixtures(new URL('../FORMAT.md', import.meta.url));
const hi = new TextEncoder().encode('hi');

describe('FORMAT.md examples, byte for byte', () => {
  it('a record: encoder and header check', () => {
    expect(hex(encodeRecords([hi]))).toBe(fixture('record-hi'));
    const bytes = Buffer.from(fixtureBytes('record-hi'));
    expect(checkHeader(bytes, 0)).toMatchObject({ kind: 'ok', payloadBytes: 2 });
    expect(bytes.subarray(RECORD_HEADER_BYTES)).toEqual(Buffer.from(hi));
  });

  it('the first bytes of a segment the Log wrote, read back after reopening', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'log-format-'));
    try {
      const log = await Log.open({ dir, preallocateBytes: 0 });
      await log.append(hi);
      await log.close();
      const [segment] = (await readdir(dir)).filter((n) => n.endsWith('.seg'));
      const written = await readFile(join(dir, segment!));
      expect(hex(written.subarray(0, RECORD_HEADER_BYTES + hi.length))).toBe(fixture('record-hi'));
      const reopened = await Log.open({ dir, preallocateBytes: 0 });
      expect(Buffer.from(await reopened.read(reopened.firstIndex))).toEqual(Buffer.from(hi));
      await reopened.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
