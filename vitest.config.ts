import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real-browser tests run with `npm run test:browser` (vitest.browser.config.ts), the
    // cluster behind haproxy with `npm run test:cluster` (vitest.cluster.config.ts).
    exclude: ['test/browser/**', 'test/cluster/**', '**/node_modules/**'],
    reporters: ['default', './test/summary-reporter.ts'],
    restoreMocks: true,
    // The leak test forces a garbage collection before it measures the heap.
    execArgv: ['--expose-gc'],
  },
});
