/**
 * The built package (npm test builds it first): both module formats load, export the
 * public API, and leave xstate to the app (a peer dependency, never bundled).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const require = createRequire(import.meta.url);

describe('package', () => {
  it('exports every subpath as ESM and CJS with types', async () => {
    const subpaths = Object.keys(pkg.exports).filter((s) => s !== './package.json');
    expect(subpaths).toEqual([
      '.',
      './memory',
      './websocket',
      './sse',
      './server',
      './redis',
      './browser',
      './testing',
      './node',
    ]);
    for (const subpath of subpaths) {
      const entry = pkg.exports[subpath];
      expect(entry.import.types).toMatch(/\.d\.ts$/);
      expect(entry.require.types).toMatch(/\.d\.cts$/);
    }
    // Paths as values: dist/ only exists once npm test has built it, after the typecheck.
    const esm = await import(/* @vite-ignore */ new URL('../dist/index.js', import.meta.url).href);
    const cjs = require('../dist/index.cjs');
    for (const api of [esm, cjs]) {
      expect(typeof api.createConnection).toBe('function');
      expect(typeof api.connectionMachine.transition).toBe('function');
      expect(typeof api.isDeliveryError).toBe('function');
    }
    const memory = require('../dist/memory.cjs');
    expect(typeof memory.createMemoryServer).toBe('function');
    expect(typeof require('../dist/websocket.cjs').webSocketTransport).toBe('function');
    expect(typeof require('../dist/sse.cjs').sseTransport).toBe('function');
    expect(typeof require('../dist/server.cjs').createServer).toBe('function');
    expect(typeof require('../dist/redis.cjs').redisStore).toBe('function');
    const redis = await import(
      /* @vite-ignore */ new URL('../dist/redis.js', import.meta.url).href
    );
    expect(typeof redis.redisStore).toBe('function');
    expect(typeof require('../dist/browser.cjs').bindPageLifecycle).toBe('function');
    expect(typeof require('../dist/node.cjs').fileStore).toBe('function');
    const browser = await import(
      /* @vite-ignore */ new URL('../dist/browser.js', import.meta.url).href
    );
    expect(typeof browser.bindPageLifecycle).toBe('function');
  });

  it('a store entry throws the error classes holdfast exports, in CJS as in ESM', async () => {
    // A store's logic comes with the store (holdfast/node), so its errors must be the
    // classes of holdfast itself, not a second copy bundled into the store's entry.
    const bad = { path: '\u0000' };
    for (const load of [
      async (p: string) =>
        import(/* @vite-ignore */ new URL(`../dist/${p}.js`, import.meta.url).href),
      async (p: string) => require(`../dist/${p}.cjs`),
    ]) {
      const api = await load('index');
      const { fileStore } = await load('node');
      const { createMemoryServer } = await load('memory');
      const conn = api.createConnection({
        transport: createMemoryServer().transport(),
        store: fileStore(bad),
      });
      const error = await new Promise((resolve) => conn.on('error', resolve));
      expect(error).toBeInstanceOf(api.ConnectionError);
      expect((error as { kind: string }).kind).toBe('store');
      conn.close();
    }
  });

  it('keeps xstate a peer dependency and out of the bundle', () => {
    expect(pkg.peerDependencies.xstate).toBeDefined();
    expect(pkg.dependencies?.xstate).toBeUndefined();
    // Entries that share the machine (holdfast, holdfast/testing) share it as a chunk.
    const dist = new URL('../dist/', import.meta.url);
    const bundles = readdirSync(dist)
      .filter((f) => f.endsWith('.js'))
      .map((f) => readFileSync(new URL(f, dist), 'utf8'));
    expect(bundles.some((b) => /from ["']xstate["']/.test(b))).toBe(true);
    for (const bundle of bundles) expect(bundle).not.toMatch(/function createMachine\(/);
  });
});
