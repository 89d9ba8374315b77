import { defineConfig } from 'vitest/config';

// `npm run test:cluster`: server processes behind Debian's haproxy (and, as issue 15 goes
// on, Redis), each started by the tests on free ports and killed by them.
export default defineConfig({
  test: {
    include: ['test/cluster/**/*.test.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
