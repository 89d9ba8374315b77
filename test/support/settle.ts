/**
 * Let every pending microtask run: the memory transport reports on microtasks, and one
 * `setImmediate` comes after all of them. The one `settle` of the tests, the simulation
 * and the benchmarks.
 */
export const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
