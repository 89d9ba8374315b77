import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // A listener that throws is reported, never rethrown; tests assert on what was reported.
    restoreMocks: true,
  },
});
