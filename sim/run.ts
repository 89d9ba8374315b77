/** Run the simulation N times from a seed with fast-check; report a failure shrunk and replayable. */
import fc from 'fast-check';
import { play } from './play.js';
import { describeSchedule, type StoreChoice, scheduleArbitrary } from './schedule.js';

export interface SimulationResult {
  ok: boolean;
  runs: number;
  seed: number;
  /** On failure: the shrunk schedule, the broken rule and how to replay it. */
  report?: string;
}

/** `stores`: which schedules have a durable store that crashes (default: some of them). */
export async function simulate(
  runs: number,
  seed: number,
  path?: string,
  stores: StoreChoice = 'mixed',
): Promise<SimulationResult> {
  const details = await fc.check(
    fc.asyncProperty(scheduleArbitrary(stores), async ([config, steps]) => {
      await play(config, steps);
    }),
    { numRuns: runs, seed, ...(path === undefined ? {} : { path }), endOnFailure: false },
  );
  if (!details.failed) return { ok: true, runs: details.numRuns, seed };
  const [config, steps] = details.counterexample?.[0] ?? [undefined, []];
  const error =
    details.errorInstance instanceof Error
      ? details.errorInstance.message
      : String(details.errorInstance);
  const report = [
    `broken: ${error}`,
    config ? describeSchedule(config, steps) : '(no counterexample)',
    `replay: npm run sim -- --seed ${details.seed} --replay ${details.counterexamplePath}${stores === 'mixed' ? '' : ` --store ${stores}`}`,
  ].join('\n');
  return { ok: false, runs: details.numRuns, seed, report };
}
