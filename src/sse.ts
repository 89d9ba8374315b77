/** `holdfast/sse`: the public entry of `adapters/sse.ts`. */
export * from '../adapters/sse.js';
