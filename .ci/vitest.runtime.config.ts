// The project's vitest config with the JSON report written where .ci/run says (VITEST_JSON_REPORT),
// so each runtime's run (Node 22, Node 24) keeps its own report.
import { defineConfig } from 'vitest/config';
import base from '../vitest.config.js';

export default defineConfig({
  ...base,
  root: new URL('..', import.meta.url).pathname,
  test: {
    ...base.test,
    reporters: ['default', ['json', { outputFile: process.env.VITEST_JSON_REPORT ?? '.vitest-report-runtime.json' }]],
  },
});
