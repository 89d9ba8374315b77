/**
 * The deterministic simulation (sim/): random schedules of faults, app calls and time,
 * each played over the memory transport under SimulatedClock with every invariant
 * checked after every step. Some schedules run on a durable store whose process crashes
 * between any two writes (test/support/sim-store.ts). A fresh seed each run, printed, so
 * a failure can be replayed.
 */
import { describe, expect, it } from 'vitest';
import { simulate } from '../sim/run.js';

const seed = Number(process.env.HOLDFAST_SIM_SEED ?? Math.floor(Math.random() * 2 ** 31));

describe('simulation', () => {
  it('2,000 random schedules keep every invariant (R1, R2, R4, R5, R7, R10, R14, R18, R22, R23)', async () => {
    console.log(
      `simulation seed ${seed} (replay: HOLDFAST_SIM_SEED=${seed} npm test, or npm run sim -- --seed ${seed})`,
    );
    const result = await simulate(2000, seed);
    expect(result.report ?? 'ok').toBe('ok');
  }, 120_000);

  it('5,000 random schedules on a store that crashes between any two writes: nothing on the wire unsaved, no serial reused, every saved message delivered once and in order or reported dropped (D1, D2, D3, D4, D7)', async () => {
    console.log(
      `simulation seed ${seed} (replay: HOLDFAST_SIM_SEED=${seed} npm test, or npm run sim -- --seed ${seed} --store always)`,
    );
    const result = await simulate(5000, seed, undefined, 'always');
    expect(result.report ?? 'ok').toBe('ok');
  }, 120_000);
});
