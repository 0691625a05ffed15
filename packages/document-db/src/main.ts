// Entry: node packages/document-db/dist/main.js --port 7201 --mongo-port 27017 --data-dir DIR
//   [--engine lsm|level|memory]
// A document database (DDIA chapter 2) with two front doors on one engine: HTTP JSON and the
// MongoDB wire protocol.
import { configOrExit } from '@ddia/common';
import { DOCDB_FLAGS, startDocumentDb } from './node.js';

const config = configOrExit(DOCDB_FLAGS);
try {
  await startDocumentDb(config);
} catch (error) {
  console.error(`document-db failed to start: ${(error as Error).message}`);
  process.exit(1);
}
