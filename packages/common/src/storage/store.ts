// One way to open a key-value store for every service: an abstract-level database chosen by
// `--engine`. Services never construct a level implementation themselves.
import { join } from 'node:path';
import type { AbstractLevel } from 'abstract-level';
import { ClassicLevel } from 'classic-level';
import { MemoryLevel } from 'memory-level';
import type { FileSystem } from '../fs/file-system.js';
import { nodeFileSystem } from '../fs/node-file-system.js';

export const ENGINES = ['lsm', 'level', 'memory'] as const;
export type EngineName = (typeof ENGINES)[number];

// biome-ignore lint/suspicious/noExplicitAny: abstract-level's generics are open by design.
export type Store = AbstractLevel<any, string | Uint8Array, any>;

export interface StoreOptions {
  engine: EngineName;
  /** Directory for on-disk engines; the store lives in `<dataDir>/<name>`. */
  dataDir?: string;
  /** Sub-directory name, so a service can keep several stores. */
  name?: string;
  keyEncoding?: 'utf8' | 'buffer' | 'view';
  valueEncoding?: 'utf8' | 'buffer' | 'view' | 'json';
  /** Memtable size of on-disk engines (LevelDB's write_buffer_size): larger means fewer
   *  flushes and compactions. Each engine's default when absent. */
  writeBufferBytes?: number;
  /** The LSM engine's constructor (`lsmEngine` from @ddia/lsm-engine), required for
   *  `engine: 'lsm'`. Passed, not registered: the LSM package depends on this one, so common
   *  cannot import it, and a registry filled by import side effects breaks when nobody
   *  happened to import the package first. */
  lsm?: StoreFactory;
  /** The file system the LSM engine writes through (common's layer; testkit's FaultFileSystem
   *  in power-loss tests). Only the LSM engine takes one: LevelDB's C++ does its own I/O. */
  fs?: FileSystem;
}

/** Thrown when an engine cannot be opened with the options given. */
export class StoreConfigError extends Error {
  override name = 'StoreConfigError';
}

/** Builds an engine that common does not depend on (the LSM engine) at a location. */
export type StoreFactory = (
  location: string,
  options: { keyEncoding?: string; valueEncoding?: string; writeBufferBytes?: number; fs?: FileSystem },
) => Store;

export async function openStore(options: StoreOptions): Promise<Store> {
  const encodings = {
    keyEncoding: options.keyEncoding ?? 'utf8',
    valueEncoding: options.valueEncoding ?? 'utf8',
  };
  let db: Store;
  if (options.engine === 'memory') {
    db = new MemoryLevel(encodings);
  } else {
    if (!options.dataDir)
      throw new StoreConfigError(`engine '${options.engine}' needs a data directory (--data-dir)`);
    if (options.fs && options.engine !== 'lsm')
      throw new StoreConfigError(
        `engine '${options.engine}' cannot write through a FileSystem; only 'lsm' can`,
      );
    const location = join(options.dataDir, options.name ?? 'store');
    // The LSM engine creates (and syncs) its own directory through its file system.
    if (!options.fs) await nodeFileSystem.mkdir(location, { recursive: true });
    if (options.engine === 'level') {
      db = new ClassicLevel(location, encodings);
      if (options.writeBufferBytes !== undefined) {
        await db.open({ writeBufferSize: options.writeBufferBytes } as Parameters<Store['open']>[0]);
        return db;
      }
    } else {
      const factory = options.lsm;
      if (!factory) {
        throw new StoreConfigError(
          `engine 'lsm' needs its factory: pass { lsm: lsmEngine } from '@ddia/lsm-engine'`,
        );
      }
      db = factory(location, {
        ...encodings,
        ...(options.writeBufferBytes === undefined ? {} : { writeBufferBytes: options.writeBufferBytes }),
        ...(options.fs ? { fs: options.fs } : {}),
      });
    }
  }
  await db.open();
  return db;
}
