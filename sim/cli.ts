/**
 * `npm run sim -- --runs N --seed S [--replay PATH] [--store mixed|always|never]`: the
 * deterministic simulation of docs/reliability.md; `--store` says which schedules have a
 * durable store that crashes (default: some). Exits 1 with a shrunk, replayable schedule
 * on any broken rule.
 */
import { simulate } from './run.js';
import type { StoreChoice } from './schedule.js';

const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const runs = Number(arg('runs') ?? 1000);
const seed = Number(arg('seed') ?? Math.floor(Math.random() * 2 ** 31));
const replay = arg('replay');
const stores = (arg('store') ?? 'mixed') as StoreChoice;
if (!['mixed', 'always', 'never'].includes(stores))
  throw new TypeError('--store must be mixed, always or never');
if (!Number.isInteger(runs) || runs < 1) throw new TypeError('--runs must be an integer ≥ 1');
if (!Number.isInteger(seed)) throw new TypeError('--seed must be an integer');

const started = performance.now();
console.log(
  `simulation: ${runs} runs, seed ${seed}, store ${stores}${replay ? `, replaying ${replay}` : ''}`,
);
const result = await simulate(replay ? 1 : runs, seed, replay, stores);
const seconds = ((performance.now() - started) / 1000).toFixed(1);
if (result.ok) {
  console.log(`ok: ${result.runs} runs in ${seconds} s, every invariant held`);
} else {
  console.log(result.report);
  process.exit(1);
}
