import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    memory: 'src/memory.ts',
    websocket: 'src/websocket.ts',
    sse: 'src/sse.ts',
    server: 'src/server/index.ts',
    browser: 'src/browser.ts',
    testing: 'src/testing/index.ts',
    node: 'src/node.ts',
    redis: 'src/redis/index.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  // CommonJS too: one copy of each shared module (the error classes above all), so an error
  // a store entry throws is `instanceof` the class `require('holdfast')` exports.
  splitting: true,
  target: 'es2022',
  external: ['xstate', 'ws', 'redis'],
});
