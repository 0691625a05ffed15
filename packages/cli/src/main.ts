#!/usr/bin/env node
// The `ddia` command. Usage: `ddia help`.
import { runReporting } from './cli.js';
import { processOutput as io } from './output.js';
import { closeHealthClient } from './processes.js';

process.exitCode = await runReporting(process.argv.slice(2), io);
await closeHealthClient();
