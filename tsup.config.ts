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
  },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
  external: ['xstate', 'ws'],
});
