// The manifest: a log of VersionEdits (which tables were added and removed, counters) on
// common's segmented Log, plus a CURRENT file naming the live manifest, replaced atomically.
// Replaying the edits on open rebuilds the set of live tables (LevelDB's MANIFEST-n and
// CURRENT; doc/impl.md "Manifest"). Each open starts a fresh manifest holding one snapshot
// edit, so a manifest never grows without bound. Byte layout: FORMAT.md "Manifest".
import { join } from 'node:path';
import { errorCode, type FileSystem, nodeFileSystem, removeTree } from '@ddia/common/fs';
import { CorruptLogError, Log, writeFileAtomic } from '@ddia/common/storage';
import { CorruptManifestError } from './errors.js';
import type { TableMeta, VersionEdit } from './version.js';

export const CURRENT_FILE = 'CURRENT';
const MANIFEST_NAME = /^MANIFEST-(\d{6,})$/;
/** Sync point prefix of CURRENT's atomic replacement (common's writeFileAtomic): `.file`, `.dir`. */
export const CURRENT_SYNC = 'lsm.current';
/** Past this many edits the manifest is rewritten as a single snapshot edit. */
export const MANIFEST_EDITS_MAX = 4096;

export function manifestName(number: number): string {
  return `MANIFEST-${String(number).padStart(6, '0')}`;
}

interface TableJson {
  number: number;
  bytes: number;
  smallest: string;
  largest: string;
  smallestSeq: number;
  largestSeq: number;
  entries: number;
}

interface EditJson {
  walIndex?: number;
  nextFileNumber?: number;
  lastSeq?: number;
  compactPointers?: [number, string][];
  removed?: [number, number][];
  added?: [number, TableJson][];
}

export function encodeEdit(edit: VersionEdit): Buffer {
  const json: EditJson = {};
  if (edit.walIndex !== undefined) json.walIndex = edit.walIndex;
  if (edit.nextFileNumber !== undefined) json.nextFileNumber = edit.nextFileNumber;
  if (edit.lastSeq !== undefined) json.lastSeq = edit.lastSeq;
  if (edit.compactPointers)
    json.compactPointers = edit.compactPointers.map(([l, k]) => [l, k.toString('base64')]);
  if (edit.removed) json.removed = edit.removed;
  if (edit.added) {
    json.added = edit.added.map(([level, t]) => [
      level,
      { ...t, smallest: t.smallest.toString('base64'), largest: t.largest.toString('base64') },
    ]);
  }
  return Buffer.from(JSON.stringify(json), 'utf8');
}

export function decodeEdit(bytes: Uint8Array): VersionEdit {
  const json = JSON.parse(Buffer.from(bytes).toString('utf8')) as EditJson;
  const edit: VersionEdit = {};
  if (typeof json.walIndex === 'number') edit.walIndex = json.walIndex;
  if (typeof json.nextFileNumber === 'number') edit.nextFileNumber = json.nextFileNumber;
  if (typeof json.lastSeq === 'number') edit.lastSeq = json.lastSeq;
  if (json.compactPointers)
    edit.compactPointers = json.compactPointers.map(([l, k]) => [l, Buffer.from(k, 'base64')]);
  if (json.removed) edit.removed = json.removed;
  if (json.added) {
    edit.added = json.added.map(([level, t]): [number, TableMeta] => {
      if (typeof t.number !== 'number' || typeof t.bytes !== 'number')
        throw new TypeError('table entry lacks fields');
      return [
        level,
        { ...t, smallest: Buffer.from(t.smallest, 'base64'), largest: Buffer.from(t.largest, 'base64') },
      ];
    });
  }
  return edit;
}

/** Reads CURRENT and replays the manifest it names; null when the database is new. */
export async function readManifest(
  location: string,
  fs: FileSystem = nodeFileSystem,
): Promise<{ name: string; edits: VersionEdit[] } | null> {
  let current: string;
  try {
    current = Buffer.from(await fs.readFile(join(location, CURRENT_FILE))).toString('utf8');
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err;
    const names = await fs.readdir(location);
    if (names.some((n) => n.endsWith('.sst'))) {
      throw new CorruptManifestError(CURRENT_FILE, 0, 'CURRENT is missing but tables exist');
    }
    // A manifest without CURRENT is a creation cut short by a crash: CURRENT, once written,
    // is only ever replaced atomically, and no write is acknowledged before it exists
    // (LevelDB's DB::Open likewise starts afresh without CURRENT). The new database's own
    // manifest replaces the stale one.
    return null;
  }
  const name = current.trim();
  if (!MANIFEST_NAME.test(name) || !current.endsWith('\n')) {
    throw new CorruptManifestError(
      CURRENT_FILE,
      0,
      `CURRENT does not name a manifest: ${JSON.stringify(current.slice(0, 40))}`,
    );
  }
  const dir = join(location, name);
  const names = await fs.readdir(dir).catch(() => null);
  if (names === null) throw new CorruptManifestError(name, 0, 'the manifest named by CURRENT does not exist');
  let log: Log;
  try {
    log = await Log.open({ dir, fsync: 'always', fs });
  } catch (err) {
    if (err instanceof CorruptLogError)
      throw new CorruptManifestError(`${name}/${err.file}`, err.offset, err.message);
    throw err;
  }
  const edits: VersionEdit[] = [];
  try {
    for await (const { index, record } of log.entries()) {
      try {
        edits.push(decodeEdit(record));
      } catch (err) {
        throw new CorruptManifestError(name, 0, `edit ${index} does not decode: ${String(err)}`);
      }
    }
  } finally {
    await log.close();
  }
  if (edits.length === 0) throw new CorruptManifestError(name, 0, 'the manifest holds no edits');
  return { name, edits };
}

/** The live manifest: appends are fsynced before they resolve (Log policy 'always'). */
export class ManifestWriter {
  edits = 0;

  private constructor(
    readonly name: string,
    private readonly log: Log,
  ) {}

  /** Writes a new manifest holding `snapshot`, then points CURRENT at it atomically. */
  static async create(
    location: string,
    number: number,
    snapshot: VersionEdit,
    fs: FileSystem = nodeFileSystem,
  ): Promise<ManifestWriter> {
    const name = manifestName(number);
    const dir = join(location, name);
    await removeTree(fs, dir);
    const log = await Log.open({ dir, fsync: 'always', fs });
    await log.append(encodeEdit(snapshot));
    // The new manifest is durable (its directory, its file, its edit) before CURRENT names it.
    await writeFileAtomic(join(location, CURRENT_FILE), `${name}\n`, { fs, syncPoint: CURRENT_SYNC });
    const writer = new ManifestWriter(name, log);
    writer.edits = 1;
    return writer;
  }

  async append(edit: VersionEdit): Promise<void> {
    await this.log.append(encodeEdit(edit));
    this.edits++;
  }

  async close(): Promise<void> {
    await this.log.close();
  }
}

/** Removes manifests other than `keep` (after CURRENT moved on). */
export async function removeOldManifests(
  location: string,
  keep: string,
  fs: FileSystem = nodeFileSystem,
): Promise<void> {
  for (const n of await fs.readdir(location)) {
    if (MANIFEST_NAME.test(n) && n !== keep) await removeTree(fs, join(location, n));
  }
}
