// Prints a test count per package, the failed tests again (file, name, first line of the error)
// so that the tail of a long CI log names them, and the closing line `N passed, N failed` that CI
// reads.
import type { Reporter, TestModule } from 'vitest/node';

interface Row {
  passed: number;
  failed: number;
  skipped: number;
}

// Enough of each error to recognise it; the full report is earlier in the log.
const ERROR_PREVIEW_CHARS = 300;

function firstLine(message: string | undefined): string {
  const line = (message ?? '').split('\n').find((l) => l.trim() !== '') ?? '';
  return line.length > ERROR_PREVIEW_CHARS ? `${line.slice(0, ERROR_PREVIEW_CHARS)}…` : line;
}

export default class CountReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const perProject = new Map<string, Row>();
    const failures: string[] = [];
    for (const mod of testModules) {
      // A package's two projects (`<package>` and `<package>:unit`, vitest.workspace.ts) count as one.
      const name = (mod.project.name || 'root').replace(/:unit$/, '');
      const row = perProject.get(name) ?? { passed: 0, failed: 0, skipped: 0 };
      let moduleHadTests = false;
      for (const test of mod.children.allTests()) {
        moduleHadTests = true;
        const result = test.result();
        if (result.state === 'passed') row.passed++;
        else if (result.state === 'failed') {
          row.failed++;
          failures.push(`${mod.moduleId} > ${test.fullName}: ${firstLine(result.errors?.[0]?.message)}`);
        } else row.skipped++;
      }
      // A file that failed to load has no tests but must still count as a failure.
      if (!moduleHadTests && mod.state() === 'failed') {
        row.failed++;
        failures.push(`${mod.moduleId}: ${firstLine(mod.errors()[0]?.message)}`);
      }
      perProject.set(name, row);
    }
    const total: Row = { passed: 0, failed: 0, skipped: 0 };
    process.stdout.write('\nTests per package:\n');
    for (const [name, row] of [...perProject.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      process.stdout.write(
        `  ${name.padEnd(18)} ${row.passed} passed, ${row.failed} failed, ${row.skipped} skipped\n`,
      );
      total.passed += row.passed;
      total.failed += row.failed;
      total.skipped += row.skipped;
    }
    if (failures.length > 0) {
      process.stdout.write('\nFailed tests:\n');
      for (const failure of failures) process.stdout.write(`  FAILED ${failure}\n`);
    }
    process.stdout.write(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped\n`);
  }
}
