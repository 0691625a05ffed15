// `ddia check linearizable --model cas-register|kv --format jepsen-log|jepsen-edn|json FILE...`
// Prints one line per file and exits with the worst outcome:
//   0  every file is linearizable
//   1  some file is NOT linearizable
//   2  bad arguments, or a file that cannot be read or parsed (message names the line)
//   3  no file is NOT linearizable, but some search gave up (unknown: raise --timeout-ms)
// Unknown is kept apart from 1 so that a script can tell "found a bug" from "ran out of time".

import { readFile, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { runCheckTransactionsCommand } from './check-transactions-command.js';
import {
  checkLinearizable,
  type LinearizabilityResult,
  UnsupportedOperationError,
} from './checker/linearizability.js';
import type { Model } from './checker/model.js';
import { createCasRegisterModel } from './checker/models/cas-register.js';
import { createKvModel } from './checker/models/kv.js';
import { renderLinearizabilityHtml } from './checker/visualize.js';
import { HistoryParseError } from './history/errors.js';
import { parseJepsenEdnLocated } from './history/parse-jepsen-edn.js';
import { type LocatedHistory, parseJepsenLogLocated } from './history/parse-jepsen-log.js';
import { parseJsonHistoryLocated } from './history/parse-json.js';

export const CHECK_EXIT = { ok: 0, notLinearizable: 1, error: 2, unknown: 3 } as const;

/** Each file's search budget unless --timeout-ms says otherwise. */
export const CHECK_DEFAULT_TIMEOUT_MS = 10_000;

/** --verbose lists this many partitions, the slowest first. */
const STATISTICS_PARTITIONS_MAX = 20;

export interface CheckCommandIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

const PARSERS: Record<string, (text: string) => LocatedHistory> = {
  'jepsen-log': parseJepsenLogLocated,
  'jepsen-edn': parseJepsenEdnLocated,
  json: parseJsonHistoryLocated,
};

const USAGE = `usage: ddia check linearizable --model cas-register|kv --format jepsen-log|jepsen-edn|json
         [--initial-value JSON] [--timeout-ms N] [--verbose] [--html OUT.html] FILE...
       ddia check transactions --help   (Elle-style transactional histories)
  --model          cas-register: read/write/cas on one register per key (starts nil)
                   kv: get/put/append/delete/cas per key (keys start as "")
  --format         jepsen-log (Jepsen's text log), jepsen-edn (EDN maps), json (our recorder's file)
  --initial-value  what an untouched register/key reads as, in JSON (e.g. null or '""')
  --timeout-ms     search budget per file (default ${CHECK_DEFAULT_TIMEOUT_MS}); past it the verdict is unknown
  --verbose        after a NOT linearizable line, print the longest ordered prefix and the blocked ops;
                   then the search's time and memo memory, per partition (per key), the slowest first
  --html OUT.html  write a self-contained timeline of the operations (the shortest failing part of the
                   history when NOT linearizable, searched within --timeout-ms); with several
                   FILEs, OUT-<file>.html for each
exit: 0 all linearizable, 1 some NOT linearizable, 2 bad arguments or unreadable file, 3 some unknown
`;

class UsageError extends Error {}

interface CheckArgs {
  model: Model<unknown>;
  parse: (text: string) => LocatedHistory;
  timeoutMs: number;
  verbose: boolean;
  html?: string;
  files: string[];
}

function parseCheckArgs(argv: string[]): CheckArgs | 'help' {
  const args = argv[0] === 'check' ? argv.slice(1) : argv;
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        model: { type: 'string' },
        format: { type: 'string' },
        'initial-value': { type: 'string' },
        'timeout-ms': { type: 'string' },
        verbose: { type: 'boolean', short: 'v' },
        html: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help === true) return 'help';
  const [what, ...files] = positionals;
  if (what !== 'linearizable') {
    throw new UsageError(
      `expected the check "linearizable" or "transactions", got ${what === undefined ? 'nothing' : `"${what}"`}`,
    );
  }
  if (files.length === 0) throw new UsageError('expected at least one FILE');
  const format = values.format;
  if (typeof format !== 'string' || !(format in PARSERS)) {
    throw new UsageError(
      `--format must be jepsen-log, jepsen-edn or json, got ${String(format ?? 'nothing')}`,
    );
  }
  let initialValue: unknown;
  const initialText = values['initial-value'];
  if (typeof initialText === 'string') {
    try {
      initialValue = JSON.parse(initialText);
    } catch {
      throw new UsageError(`--initial-value must be JSON (null, "", 0, ...), got ${initialText}`);
    }
  }
  let model: Model<unknown>;
  if (values.model === 'cas-register') model = createCasRegisterModel({ initialValue });
  else if (values.model === 'kv') model = createKvModel({ initialValue });
  else throw new UsageError(`--model must be cas-register or kv, got ${String(values.model ?? 'nothing')}`);
  let timeoutMs = CHECK_DEFAULT_TIMEOUT_MS;
  const timeoutText = values['timeout-ms'];
  if (typeof timeoutText === 'string') {
    timeoutMs = Number(timeoutText);
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
      throw new UsageError(`--timeout-ms must be a positive integer, got ${timeoutText}`);
    }
  }
  const html = values.html;
  if (html !== undefined && (typeof html !== 'string' || html.length === 0)) {
    throw new UsageError('--html needs a file name, such as --html timeline.html');
  }
  return {
    model,
    parse: PARSERS[format],
    timeoutMs,
    verbose: values.verbose === true,
    ...(typeof html === 'string' ? { html } : {}),
    files,
  };
}

/** Per partition (per key): verdict, size, time and memo memory, the slowest first. */
export function searchStatistics(result: LinearizabilityResult): string[] {
  const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);
  const lines = [
    `search: ${result.operationCount} operations, ${result.partitions.length} of ${result.partitionCount} partitions decided, ${result.elapsedMs.toFixed(0)} ms, memo ${mb(result.partitions.reduce((sum, p) => sum + p.memoBytes, 0))} MB, rss ${mb(process.memoryUsage().rss)} MB`,
  ];
  const slowest = [...result.partitions].sort((a, b) => b.elapsedMs - a.elapsedMs);
  for (const p of slowest.slice(0, STATISTICS_PARTITIONS_MAX)) {
    const name = p.key === undefined ? 'history' : `key ${JSON.stringify(p.key)}`;
    const stopped = p.stoppedBy === undefined ? '' : ` (stopped by ${p.stoppedBy})`;
    lines.push(
      `  ${name}: ${p.verdict}${stopped}, ${p.operationCount} ops, ${p.steps} steps, ${p.elapsedMs.toFixed(1)} ms, memo ${p.memoEntries} entries ${mb(p.memoBytes)} MB`,
    );
  }
  if (slowest.length > STATISTICS_PARTITIONS_MAX) {
    lines.push(`  ... ${slowest.length - STATISTICS_PARTITIONS_MAX} faster partitions not listed`);
  }
  return lines;
}

/** With several FILEs, `--html out.html` writes out-<file name>.html for each. */
function htmlPathFor(html: string, file: string): string {
  const stem = html.endsWith('.html') ? html.slice(0, -'.html'.length) : html;
  return `${stem}-${basename(file).replace(/[^\w.-]/g, '_')}.html`;
}

/** Runs the command on `argv` (the words after `ddia check`); resolves to the exit code. */
export async function runCheckCommand(argv: string[], io: CheckCommandIo): Promise<number> {
  const words = argv[0] === 'check' ? argv.slice(1) : argv;
  if (words[0] === 'transactions') return runCheckTransactionsCommand(words.slice(1), io);
  let args: CheckArgs | 'help';
  try {
    args = parseCheckArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`ddia check: ${error.message}\n${USAGE}`);
    return CHECK_EXIT.error;
  }
  if (args === 'help') {
    io.stdout.write(USAGE);
    return CHECK_EXIT.ok;
  }
  let sawError = false;
  let sawNot = false;
  let sawUnknown = false;
  for (const file of args.files) {
    let history: LocatedHistory;
    try {
      history = args.parse(await readFile(file, 'utf8'));
    } catch (error) {
      sawError = true;
      if (error instanceof HistoryParseError) {
        io.stderr.write(
          `${file}:${error.line}${error.column === undefined ? '' : `:${error.column}`}: ${error.reason}\n`,
        );
      } else {
        io.stderr.write(`${file}: cannot read: ${(error as Error).message}\n`);
      }
      continue;
    }
    let result: LinearizabilityResult;
    try {
      result = checkLinearizable(history.events, args.model, { timeoutMs: args.timeoutMs });
    } catch (error) {
      if (!(error instanceof UnsupportedOperationError)) throw error;
      sawError = true;
      const line = history.lines[error.operation.invokeIndex];
      io.stderr.write(
        `${file}:${line}: ${args.model.name} model: expected ${error.expected} (is --model right?)\n`,
      );
      continue;
    }
    if (result.verdict === 'linearizable') io.stdout.write(`${file}: linearizable\n`);
    else if (result.verdict === 'unknown') {
      sawUnknown = true;
      io.stdout.write(`${file}: unknown\n`);
    } else {
      sawNot = true;
      io.stdout.write(`${file}: NOT linearizable\n`);
    }
    if (args.verbose) {
      for (const line of result.explanation ?? []) io.stdout.write(`  ${line}\n`);
      for (const line of searchStatistics(result)) io.stdout.write(`  ${line}\n`);
    }
    if (args.html !== undefined) {
      const htmlPath = args.files.length === 1 ? args.html : htmlPathFor(args.html, file);
      const page = renderLinearizabilityHtml(history.events, args.model, result, {
        title: basename(file),
        timeoutMs: args.timeoutMs,
        lines: history.lines,
      });
      try {
        await writeFile(htmlPath, page);
        io.stdout.write(`  timeline: ${htmlPath}\n`);
      } catch (error) {
        sawError = true;
        io.stderr.write(`${htmlPath}: cannot write: ${(error as Error).message}\n`);
      }
    }
  }
  if (sawError) return CHECK_EXIT.error;
  if (sawNot) return CHECK_EXIT.notLinearizable;
  if (sawUnknown) return CHECK_EXIT.unknown;
  return CHECK_EXIT.ok;
}
