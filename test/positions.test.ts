/**
 * The persistent positions (`machines/positions.ts`): every version reads as it was made,
 * whatever was made from it or read since and in whatever order (the model-based tests
 * and XState's pure `transition()` branch from old snapshots), and an inbound frame costs
 * O(1) whatever the number of watched streams (issue 11, item 19).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMemoryServer } from '../adapters/memory.js';
import { readFrame } from '../machines/frames.js';
import {
  emptyPositions,
  type Positions,
  positionsWork,
  UNWATCHED_REMEMBERED,
} from '../machines/positions.js';
import { createConnection } from '../src/index.js';
import { settle } from './support/settle.js';

const STREAMS = ['a', 'b', 'c', 'd', 'e'] as const;

/** What a version stands for: a `Map` in watch order, and every unwatch so far. */
interface Model {
  readonly watched: ReadonlyMap<string, number>;
  readonly unwatches: readonly string[];
}

type Op =
  | { kind: 'watch' | 'advance'; from: number; stream: string; seq: number }
  | { kind: 'unwatch' | 'read'; from: number; stream: string };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constantFrom('watch' as const, 'advance' as const),
    from: fc.nat(),
    stream: fc.constantFrom(...STREAMS),
    seq: fc.nat({ max: 20 }),
  }),
  fc.record({
    kind: fc.constantFrom('unwatch' as const, 'read' as const),
    from: fc.nat(),
    stream: fc.constantFrom(...STREAMS),
  }),
);

function step(model: Model, o: Op): Model {
  const { watched, unwatches } = model;
  if (o.kind === 'watch') {
    return watched.has(o.stream)
      ? model
      : { watched: new Map(watched).set(o.stream, o.seq), unwatches };
  }
  if (o.kind === 'advance') {
    return watched.has(o.stream)
      ? { watched: new Map(watched).set(o.stream, o.seq), unwatches }
      : model;
  }
  if (o.kind === 'unwatch' && watched.has(o.stream)) {
    const rest = new Map(watched);
    rest.delete(o.stream);
    return { watched: rest, unwatches: [...unwatches, o.stream] };
  }
  return model;
}

function apply(positions: Positions, o: Op): Positions {
  if (o.kind === 'watch') return positions.watch(o.stream, o.seq);
  if (o.kind === 'advance') return positions.advance(o.stream, o.seq);
  if (o.kind === 'unwatch') return positions.unwatch(o.stream);
  return positions;
}

/** A stream is remembered as unwatched while its last unwatch is one of the `remember` latest. */
function isUnwatched(model: Model, stream: string, remember: number): boolean {
  const last = model.unwatches.lastIndexOf(stream);
  return !model.watched.has(stream) && last >= 0 && last >= model.unwatches.length - remember;
}

function expectReads(positions: Positions, model: Model, remember: number): void {
  const entries = [...model.watched];
  expect([...positions]).toEqual(entries);
  expect([...positions.entries()]).toEqual(entries);
  expect([...positions.keys()]).toEqual([...model.watched.keys()]);
  expect([...positions.values()]).toEqual([...model.watched.values()]);
  const seen: Array<[string, number]> = [];
  positions.forEach((seq, stream) => {
    seen.push([stream, seq]);
  });
  expect(seen).toEqual(entries);
  expect(positions.toJSON()).toEqual(entries.map(([stream, seq]) => ({ stream, seq })));
  expect(positions.size).toBe(model.watched.size);
  for (const stream of STREAMS) {
    expect(positions.get(stream)).toBe(model.watched.get(stream));
    expect(positions.has(stream)).toBe(model.watched.has(stream));
    expect(positions.isUnwatched(stream)).toBe(isUnwatched(model, stream, remember));
  }
}

/** Calls of `Map.prototype.set` / `delete` (any map's) while `run` runs. */
async function mapWrites(run: () => void | Promise<void>): Promise<number> {
  const { set, delete: remove } = Map.prototype;
  let count = 0;
  Map.prototype.set = function (this: Map<unknown, unknown>, key, value) {
    count++;
    return set.call(this, key, value);
  };
  Map.prototype.delete = function (this: Map<unknown, unknown>, key) {
    count++;
    return remove.call(this, key);
  };
  try {
    await run();
  } finally {
    Map.prototype.set = set;
    Map.prototype.delete = remove;
  }
  return count;
}

describe('persistent positions', () => {
  it('every version reads as it was made, after any updates and reads, branching included', () => {
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 60 }),
        fc.array(fc.nat()),
        fc.nat({ max: 4 }),
        (ops, readOrder, remember) => {
          const versions: Positions[] = [emptyPositions(remember)];
          const models: Model[] = [{ watched: new Map(), unwatches: [] }];
          for (const o of ops) {
            // Any version, not only the newest: two updates of one version are two branches.
            const from = o.from % versions.length;
            const base = versions[from] as Positions;
            const model = models[from] as Model;
            if (o.kind === 'read') {
              expectReads(base, model, remember);
              continue;
            }
            const next = apply(base, o);
            const nextModel = step(model, o);
            // An update that changes nothing gives the same version (`receiveFrame` relies on it).
            if (nextModel === model) expect(next).toBe(base);
            versions.push(next);
            models.push(nextModel);
          }
          // Then every version, in an order of fast-check's choosing, and all of them again.
          for (const i of readOrder) {
            const at = i % versions.length;
            expectReads(versions[at] as Positions, models[at] as Model, remember);
          }
          for (let at = versions.length - 1; at >= 0; at--)
            expectReads(versions[at] as Positions, models[at] as Model, remember);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('lists streams in the order they were watched, also after an old version was re-rooted', () => {
    const ab = emptyPositions().watch('a', 1).watch('b', 2);
    const b = ab.unwatch('a');
    const ba = b.watch('a', 5);
    const abc = ab.watch('c', 3);
    expect([...ba.keys()]).toEqual(['b', 'a']);
    // `ab` is read after `b` removed `a`: re-rooting puts `a` back at the end of the store.
    expect([...ab.keys()]).toEqual(['a', 'b']);
    expect([...abc.keys()]).toEqual(['a', 'b', 'c']);
    expect([...ba]).toEqual([
      ['b', 2],
      ['a', 5],
    ]);
    expect(b.isUnwatched('a')).toBe(true);
    expect(ba.isUnwatched('a')).toBe(false);
  });

  it(`remembers the streams of the ${UNWATCHED_REMEMBERED.toLocaleString('en')} most recent unwatches, no more`, () => {
    let positions = emptyPositions();
    for (let i = 0; i <= UNWATCHED_REMEMBERED; i++) positions = positions.watch(`s${i}`, 0);
    positions = positions.unwatch('s0').watch('s0', 0);
    for (let i = 1; i < UNWATCHED_REMEMBERED; i++) positions = positions.unwatch(`s${i}`);
    // s0 again: its first unwatch leaves the log now, and must not make it forget s0.
    positions = positions.unwatch('s0');
    expect(positions.isUnwatched('s0')).toBe(true);
    expect(positions.isUnwatched('s1')).toBe(true);
    // One more: s1's unwatch is the oldest of the log, and s1 is forgotten.
    positions = positions.unwatch(`s${UNWATCHED_REMEMBERED}`);
    expect(positions.size).toBe(0);
    expect(positions.isUnwatched('s1')).toBe(false);
    expect(positions.isUnwatched('s0')).toBe(true);
    expect(positions.isUnwatched('s2')).toBe(true);
    expect(positions.isUnwatched(`s${UNWATCHED_REMEMBERED}`)).toBe(true);
    // A forgotten stream's frames go to the app like any stream's nobody watches.
    expect(readFrame(positions, { stream: 's1', seq: 9, data: 1 }).deliver).toBe(true);
    expect(readFrame(positions, { stream: 's2', seq: 9, data: 1 }).deliver).toBe(false);
  });

  it('JSON and for…in see the positions, not the chain of versions behind them', () => {
    let positions = emptyPositions().watch('a', 0);
    const first = positions;
    for (let seq = 1; seq <= 50_000; seq++) positions = positions.advance('a', seq);
    expect(JSON.stringify({ positions: first })).toBe('{"positions":[{"stream":"a","seq":0}]}');
    expect(Object.keys(positions)).toEqual(['size']);
  });
});

describe('an inbound frame costs O(1) whatever the number of watched streams', () => {
  /** 1,000 frames through `readFrame`, every version kept (as snapshots would be). */
  async function readFrames(watched: number) {
    let positions = emptyPositions();
    for (let i = 0; i < watched; i++) positions = positions.watch(`s${i}`, 0);
    const kept: Positions[] = [positions];
    const slotsBefore = positionsWork();
    const writes = await mapWrites(() => {
      for (let i = 0; i < 1000; i++) {
        const stream = `s${i % watched}`;
        const verdict = readFrame(positions, { stream, seq: Math.floor(i / watched) + 1, data: i });
        expect(verdict.deliver).toBe(true);
        positions = verdict.positions;
        kept.push(positions);
      }
    });
    return { slots: positionsWork() - slotsBefore, writes, positions, kept };
  }

  it('readFrame writes one slot per frame, with 10,000 streams as with 1', async () => {
    const one = await readFrames(1);
    const many = await readFrames(10_000);
    expect(one.slots).toBe(1000);
    expect(many.slots).toBe(1000);
    expect(many.writes).toBeLessThanOrEqual(2 * one.writes);
    // Every version is still readable, the oldest first, then the newest again.
    expect(many.kept[0]?.get('s0')).toBe(0);
    expect(many.kept[500]?.get('s499')).toBe(1);
    expect(many.kept[500]?.get('s500')).toBe(0);
    expect(many.positions.get('s999')).toBe(1);
    expect(many.positions.get('s1000')).toBe(0);
    expect(one.kept[0]?.get('s0')).toBe(0);
    expect(one.positions.get('s0')).toBe(1000);
  });

  /** Map writes of 1,000 frames handled by a real connection watching `watched` streams. */
  async function connectionFrames(watched: number) {
    const server = createMemoryServer({ heartbeatMs: 0 });
    const conn = createConnection({ transport: server.transport() });
    for (let i = 0; i < watched; i++) conn.watch(`s${i}`);
    await settle();
    expect(conn.state).toBe('open');
    let delivered = 0;
    conn.on('message', () => delivered++);
    const writes = await mapWrites(async () => {
      for (let i = 0; i < 1000; i++) {
        const stream = `s${i % watched}`;
        server.current?.push({ stream, seq: Math.floor(i / watched) + 1, data: i });
      }
      await settle();
    });
    expect(delivered).toBe(1000);
    conn.close();
    return writes;
  }

  it('a connection watching 10,000 streams does no more map work per frame than one watching 1', async () => {
    const one = await connectionFrames(1);
    const many = await connectionFrames(10_000);
    // Copying the positions per frame would be 10,000 writes a frame: 10,000,000 here.
    expect(many).toBeLessThanOrEqual(2 * one + 1000);
  }, 60_000);
});
