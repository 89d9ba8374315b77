/** `holdfast/memory`: the public entry of `adapters/memory.ts`. */
export * from '../adapters/memory.js';
