// Prints vitest's JSON reports as the one closing line CI reads: "N passed, N failed, N skipped",
// summed over every run. Arguments: pairs of <report file> <exit status of that run>.
import { existsSync, readFileSync } from 'node:fs';

const args = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;
for (let i = 0; i < args.length; i += 2) {
  const [file, status] = [args[i], args[i + 1]];
  if (!existsSync(file)) {
    console.log(
      `${file}: no test report (the run exited ${status}; the build, an install or the set-up failed before the tests ran)`,
    );
    failed += 1;
    continue;
  }
  const r = JSON.parse(readFileSync(file, 'utf8'));
  // Files that failed to load count as failures too (their tests never ran).
  const brokenFiles = (r.testResults ?? []).filter(
    (f) => f.status === 'failed' && (f.assertionResults ?? []).length === 0,
  ).length;
  const run = {
    passed: r.numPassedTests ?? 0,
    failed: (r.numFailedTests ?? 0) + brokenFiles,
    skipped: (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0),
  };
  // A run that failed without a failing test (e.g. an error outside tests) still counts as one failure.
  if (Number(status) !== 0 && run.failed === 0) run.failed = 1;
  console.log(`${file}: ${run.passed} passed, ${run.failed} failed, ${run.skipped} skipped`);
  passed += run.passed;
  failed += run.failed;
  skipped += run.skipped;
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
