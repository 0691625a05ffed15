// Prints a test count per package and the closing line `N passed, N failed` that CI reads.
import type { Reporter, TestModule } from 'vitest/node';

export default class CountReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const perProject = new Map<string, { passed: number; failed: number; skipped: number }>();
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const mod of testModules) {
      const name = mod.project.name || 'root';
      const row = perProject.get(name) ?? { passed: 0, failed: 0, skipped: 0 };
      let moduleHadTests = false;
      for (const test of mod.children.allTests()) {
        moduleHadTests = true;
        const state = test.result().state;
        if (state === 'passed') row.passed++;
        else if (state === 'failed') row.failed++;
        else row.skipped++;
      }
      // A file that failed to load has no tests but must still count as a failure.
      if (!moduleHadTests && mod.state() === 'failed') row.failed++;
      perProject.set(name, row);
    }
    const lines = [...perProject.entries()].sort(([a], [b]) => a.localeCompare(b));
    process.stdout.write('\nTests per package:\n');
    for (const [name, row] of lines) {
      process.stdout.write(
        `  ${name.padEnd(18)} ${row.passed} passed, ${row.failed} failed, ${row.skipped} skipped\n`,
      );
      passed += row.passed;
      failed += row.failed;
      skipped += row.skipped;
    }
    process.stdout.write(`${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
