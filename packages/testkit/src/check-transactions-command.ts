// `ddia check transactions [--workload list-append|rw-register] [--realtime] [--verbose] FILE...`
// Elle's EDN histories (:f :txn). One line per file, then the consistency models it satisfies.
// Exit codes as `ddia check linearizable`: 0 no anomaly, 1 some anomaly, 2 bad arguments or a
// file that cannot be read or parsed (FILE:LINE:COL: reason), never a stack trace.

import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { CONSISTENCY_MODELS, checkTransactions } from './checker/transactions/check-transactions.js';
import type { Workload } from './checker/transactions/infer-edges.js';
import { TransactionHistoryError } from './checker/transactions/transaction.js';
import { HistoryParseError } from './history/errors.js';
import { parseElleEdn } from './history/parse-elle-edn.js';

export interface TransactionsCommandIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

const USAGE = `usage: ddia check transactions [--workload list-append|rw-register] [--realtime] [--verbose] FILE...
  FILE        an Elle history in EDN ({:process 0, :type :ok, :f :txn, :value [[:append 1 2] [:r 1 [2]]]})
  --workload  default: list-append when any transaction appends, else rw-register
  --realtime  add real-time edges (strict serializability)
  --verbose   each anomaly's explanation, and the time and memory of the check
exit: 0 no anomaly, 1 some anomaly, 2 bad arguments or unreadable file
`;

/** Runs the command on `argv` (the words after `ddia check transactions`); resolves to the exit code. */
export async function runCheckTransactionsCommand(
  argv: string[],
  io: TransactionsCommandIo,
): Promise<number> {
  let values: { workload?: string; realtime?: boolean; verbose?: boolean; help?: boolean };
  let files: string[];
  try {
    const parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        workload: { type: 'string' },
        realtime: { type: 'boolean' },
        verbose: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    values = parsed.values;
    files = parsed.positionals;
    if (values.help === true) {
      io.stdout.write(USAGE);
      return 0;
    }
    if (files.length === 0) throw new Error('expected at least one FILE');
    if (
      values.workload !== undefined &&
      values.workload !== 'list-append' &&
      values.workload !== 'rw-register'
    ) {
      throw new Error(`--workload must be list-append or rw-register, got ${values.workload}`);
    }
  } catch (error) {
    io.stderr.write(`ddia check transactions: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  let sawError = false;
  let sawAnomaly = false;
  for (const file of files) {
    try {
      const startMs = performance.now();
      const txns = parseElleEdn(await readFile(file, 'utf8'));
      const parsedMs = performance.now() - startMs;
      const result = checkTransactions(txns, {
        workload: values.workload as Workload | undefined,
        realtime: values.realtime === true,
      });
      const checkMs = performance.now() - startMs - parsedMs;
      if (result.valid) io.stdout.write(`${file}: no anomalies in ${txns.length} transactions\n`);
      else {
        sawAnomaly = true;
        io.stdout.write(`${file}: ${result.anomalyTypes.join(', ')} in ${txns.length} transactions\n`);
      }
      io.stdout.write(`  models: ${CONSISTENCY_MODELS.map((m) => `${m} ${result.models[m]}`).join(', ')}\n`);
      if (values.verbose === true) {
        for (const anomaly of result.anomalies) io.stdout.write(`  ${anomaly.explanation}\n`);
        const rssMb = Math.round(process.memoryUsage().rss / 1e6);
        io.stdout.write(
          `  parse ${parsedMs.toFixed(0)} ms, check ${checkMs.toFixed(0)} ms, edges ${JSON.stringify(result.edgeCounts)}, rss ${rssMb} MB\n`,
        );
      }
    } catch (error) {
      sawError = true;
      if (error instanceof HistoryParseError) {
        io.stderr.write(
          `${file}:${error.line}${error.column === undefined ? '' : `:${error.column}`}: ${error.reason}\n`,
        );
      } else if (error instanceof TransactionHistoryError) {
        io.stderr.write(`${file}: ${error.message}\n`);
      } else if ((error as NodeJS.ErrnoException).code !== undefined) {
        io.stderr.write(`${file}: cannot read: ${(error as Error).message}\n`);
      } else throw error;
    }
  }
  return sawError ? 2 : sawAnomaly ? 1 : 0;
}
