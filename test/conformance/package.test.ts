/**
 * `holdfast/testing` as built (npm test builds first): both formats load and export the
 * kit, and xstate (xstate/graph included) stays the app's, never bundled.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const dist = (file: string) => new URL(`../../dist/${file}`, import.meta.url);

describe('holdfast/testing, built', () => {
  it('exports the kit from ESM and CommonJS', async () => {
    const esm = await import(/* @vite-ignore */ dist('testing.js').href);
    const cjs = require('../../dist/testing.cjs');
    for (const api of [esm, cjs]) {
      for (const name of ['runConformance', 'conformanceCases', 'assertConformance'])
        expect(typeof api[name], name).toBe('function');
      expect(api.ConformanceError.prototype).toBeInstanceOf(Error);
    }
  });

  it('leaves xstate/graph to the app', () => {
    const bundle = readFileSync(dist('testing.js'), 'utf8');
    expect(bundle).toMatch(/from ["']xstate\/graph["']/);
    expect(bundle).not.toMatch(/function getShortestPaths\(/);
  });
});
