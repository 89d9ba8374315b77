import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', memory: 'adapters/memory.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
  external: ['xstate'],
});
