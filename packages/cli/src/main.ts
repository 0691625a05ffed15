#!/usr/bin/env node
import { processOutput as io } from '@ddia/common';
// The `ddia` command. Usage: `ddia help`.
import { runReporting } from './cli.js';
import { closeHealthClient } from './processes.js';

process.exitCode = await runReporting(process.argv.slice(2), io);
await closeHealthClient();
