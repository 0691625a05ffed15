import { parseConfig } from '@ddia/common';
import { DOCDB_FLAGS, type DocumentDbNode, startDocumentDb } from '../../src/node.js';

/** A whole service in this process, HTTP and wire protocol on free ports, memory engine unless a dir is given. */
export async function startTestNode(extra: string[] = []): Promise<DocumentDbNode> {
  const config = parseConfig(
    ['--port', '0', '--mongo-port', '0', '--log-level', 'silent', ...extra],
    {},
    DOCDB_FLAGS,
  );
  return startDocumentDb(config);
}
