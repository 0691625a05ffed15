// Entry: `node packages/kv-store/dist/main.js --id n1 --port 7001
//   --peers n1=http://127.0.0.1:7001,n2=http://127.0.0.1:7002,n3=http://127.0.0.1:7003 --data-dir DIR`
import os from 'node:os';
import v8 from 'node:v8';
import { configOrExit } from '@ddia/common';
import { gcFlagsToSet } from './gc-settings.js';
import { KV_FLAGS, startKvNode } from './kv-node.js';

// Settings for V8's collector, each measured (gc-settings.ts); the command line's win.
for (const flag of gcFlagsToSet(process.execArgv, os.availableParallelism())) v8.setFlagsFromString(flag);

const config = configOrExit(KV_FLAGS);
try {
  await startKvNode(config, {
    // A broken invariant or a failed disk stops the process rather than serving from bad state.
    onFatal: () => process.exit(1),
  });
} catch (error) {
  console.error(`kv-store ${config.id} failed to start: ${(error as Error).message}`);
  process.exit(1);
}
