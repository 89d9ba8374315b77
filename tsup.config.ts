import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    memory: 'adapters/memory.ts',
    websocket: 'adapters/websocket.ts',
    sse: 'adapters/sse.ts',
    server: 'src/server/index.ts',
    browser: 'src/browser.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
  external: ['xstate', 'ws'],
});
