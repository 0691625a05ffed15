// Removing a directory tree through the FileSystem layer (so fault-injecting file systems see
// every unlink). Not synced: callers first make a durable record that the tree is garbage (a
// CURRENT that names another manifest, a topic list without the topic), and their next open
// removes whatever a power cut brought back.
import { join } from 'node:path';
import { errorCode, type FileSystem } from './file-system.js';

/** Removes `dir` and everything below it; a missing `dir` is not an error. */
export async function removeTree(fs: FileSystem, dir: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return;
    throw err;
  }
  for (const name of names) {
    const path = join(dir, name);
    if ((await fs.stat(path)).isDirectory) await removeTree(fs, path);
    else await fs.unlink(path);
  }
  await fs.rmdir(dir);
}
