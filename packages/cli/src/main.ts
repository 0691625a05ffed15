#!/usr/bin/env node
// The `ddia` command. Usage: `ddia help`.
import { ProxyControlError } from '@ddia/testkit';
import { io, run } from './cli.js';
import { CliError } from './lab.js';
import { closeHealthClient } from './processes.js';
import { UnknownNodeError } from './state.js';
import { TopologyError } from './topology.js';

async function main(): Promise<void> {
  let code: number;
  try {
    code = await run(process.argv.slice(2));
  } catch (err) {
    if (err instanceof CliError) {
      io.err(`ddia: ${err.message}`);
      code = err.exitCode;
    } else if (
      err instanceof TopologyError ||
      err instanceof UnknownNodeError ||
      err instanceof ProxyControlError
    ) {
      io.err(`ddia: ${err.message}`);
      code = 2;
    } else if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`ddia: ${(err as Error).message}`);
      code = 2;
    } else {
      throw err;
    }
  }
  await closeHealthClient();
  process.exitCode = code;
}

await main();
