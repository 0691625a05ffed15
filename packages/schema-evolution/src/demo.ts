// `pnpm --filter @ddia/schema-evolution demo [--quick]`: the chapter's encodings and evolution
// rules, printed. Every number is measured or computed in this run.
import { cpus } from 'node:os';
import {
  bookTable,
  formatBookTable,
  formatGeneratedTable,
  hexDumps,
  measureGenerated,
} from './encodings/report.js';
import { evolutionMatrix, formatMatrix } from './evolution/matrix.js';

const quick = process.argv.includes('--quick');
const GENERATED_RECORDS = 2_000;
const GENERATED_SEED = 4;
const BUDGET_MS = quick ? 50 : 400;

const out = (text = '') => process.stdout.write(`${text}\n`);

out('# DDIA chapter 4: the example record in six encodings\n');
out('{"userName":"Martin","favoriteNumber":1337,"interests":["daydreaming","hacking"]}\n');
out(formatBookTable(bookTable()));
out('\n## Annotated bytes\n');
out(hexDumps());
out(
  `\n## ${GENERATED_RECORDS} generated records (seed ${GENERATED_SEED}), ${cpus().length} CPUs, ${BUDGET_MS} ms per measurement\n`,
);
out(formatGeneratedTable(measureGenerated(GENERATED_RECORDS, GENERATED_SEED, BUDGET_MS)));
out('\n## Schema evolution: bw = old writer -> new reader, fw = new writer -> old reader\n');
const rows = evolutionMatrix();
out(formatMatrix(rows));
out('\nWhat each reader saw:');
for (const row of rows) {
  for (const [format, cells] of Object.entries(row.cells)) {
    for (const [direction, cell] of Object.entries(cells)) {
      if (cell.outcome !== 'ok')
        out(`- ${row.change}, ${format} ${direction}: ${cell.outcome}: ${cell.detail}`);
    }
  }
}
