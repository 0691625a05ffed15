// Entry: `node packages/replication/dist/main.js --mode single-leader|multi-leader|leaderless
//   --id n1 --port 7501 --peers n1=http://127.0.0.1:7501,n2=...,n3=... --data-dir DIR
//   [--n 3 --w quorum --r quorum] [--chaos]`
import { ConfigError, configOrExit } from '@ddia/common';
import { REPLICATION_FLAGS, settingsOf } from './flags.js';
import { startReplicationNode } from './replication-node.js';

const config = configOrExit(REPLICATION_FLAGS);
try {
  settingsOf(config);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`error: ${error.message}\n`);
  process.exit(2);
}
try {
  await startReplicationNode(config, {
    // A failed disk write stops the process rather than serving from state it could not persist.
    onFatal: () => process.exit(1),
  });
} catch (error) {
  console.error(`replication ${config.id} failed to start: ${(error as Error).message}`);
  process.exit(1);
}
