import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real-browser tests run with `npm run test:browser` (vitest.browser.config.ts).
    exclude: ['test/browser/**', '**/node_modules/**'],
    reporters: ['default', './test/summary-reporter.ts'],
    restoreMocks: true,
    // The leak test forces a garbage collection before it measures the heap.
    execArgv: ['--expose-gc'],
  },
});
