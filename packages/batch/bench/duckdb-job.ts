// The DuckDB side of the benchmark (run as a child process by bench/run.ts): the same job as
// SQL over the same files, in its own process so that its memory is measured alone. DuckDB
// uses every core. Output lines are formatted like our job's part files, so the digests
// compare. Prints {ms, cpuMs, lines, digest, peakRssMiB} as JSON.
//   node --import tsx bench/duckdb-job.ts wordcount|aggregate <dir>
import { createHash } from 'node:crypto';
import { DuckDBInstance } from '@duckdb/node-api';

const [job, dir] = process.argv.slice(2) as ['wordcount' | 'aggregate', string];
const glob = `${dir.replace(/'/g, "''")}/part-*`;
// Word count: words are maximal runs of letters, lower-cased (the bench's input is ASCII, so
// [a-z] after lower() is the same as the job's \p{L}). Lines are read as one VARCHAR column
// (the input has no tabs or quotes).
const SQL = {
  wordcount: `
    SELECT word AS key, CAST(count(*) AS VARCHAR) AS value
    FROM (SELECT unnest(regexp_extract_all(lower(line), '[a-z]+')) AS word
          FROM read_csv('${glob}', columns = {'line': 'VARCHAR'}, header = false, delim = '\t',
                        quote = '', escape = '', auto_detect = false))
    GROUP BY word`,
  aggregate: `
    SELECT key, CAST(count(*) AS VARCHAR) || ',' || CAST(sum(amount) AS VARCHAR) AS value
    FROM read_csv('${glob}', header = true, columns = {'id': 'BIGINT', 'key': 'VARCHAR', 'amount': 'BIGINT'},
                  auto_detect = false)
    GROUP BY key`,
}[job];

const started = performance.now();
const cpuStarted = process.cpuUsage();
const instance = await DuckDBInstance.create(':memory:');
const connection = await instance.connect();
const reader = await connection.runAndReadAll(SQL);
const lines = (reader.getRows() as [string, string][]).map(([k, v]) => `${k}\t${v}`);
const ms = performance.now() - started;
connection.closeSync();
instance.closeSync();
lines.sort();
const digest = createHash('sha256').update(lines.join('\n')).digest('hex');
process.stdout.write(
  `${JSON.stringify({ ms, cpuMs: cpuMsSince(cpuStarted), lines: lines.length, digest, peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) })}\n`,
);

/** CPU time (user + system, every thread of this process) since `from`, in ms. */
function cpuMsSince(from: NodeJS.CpuUsage): number {
  const { user, system } = process.cpuUsage(from);
  return (user + system) / 1000;
}
