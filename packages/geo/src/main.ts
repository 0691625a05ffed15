// A standalone runner for the experiments, the same as `ddia geo list|run` (see command.ts):
//   node packages/geo/dist/main.js list
//   node packages/geo/dist/main.js run <name> --out DIR [--seed N] [--profile P] [--regions us,eu,ap] [--quick]
import { processOutput } from '@ddia/common';
import { runGeoCommand } from './command.js';

process.exitCode = await runGeoCommand(process.argv.slice(2), processOutput);
