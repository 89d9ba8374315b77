/**
 * The durable outbox against real processes (durable.md §4, first bullet): a client process
 * (test/support/durable-child.ts) sends the numbers 1, 2, 3, … over WebSocket to the
 * reference server with a file store, and is SIGKILLed at seeded random moments — while it
 * starts, opens its store or restores, after a few milliseconds of sending, and just as a
 * store write begins — then started again on the same folder. The server keeps running
 * (it remembers sessions); only the client dies. A last run that is not killed sends 300
 * more, waits until everything settled and closes.
 *
 * What must hold: the server's app got every number from 1 to the last exactly once, in
 * order; no number whose save resolved was ever lost (each restart goes on above it); every
 * `restored` event fired once per run, in order, and every restored promise that settled
 * resolved (in the last run, all of them); nothing was dropped or reported as an error;
 * and the store is empty at the end.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fileStore } from '../../src/node.js';
import { createServer, type Listening } from '../../src/server/index.js';
import { bundleChild } from '../support/child-bundle.js';
import { type ChildLine, seeded, storeFolder } from '../support/durable-child.js';

const KILLS = 24;
const FINAL_COUNT = 300;
const SEED = 20_250_301;

let work = '';
let childScript = '';
const children = new Set<ChildProcess>();
let listening: Listening | undefined;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'holdfast-durable-'));
  childScript = join(work, 'child.mjs');
  await bundleChild(new URL('../support/durable-child.ts', import.meta.url), childScript);
});
afterEach(async () => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
  await listening?.close();
  listening = undefined;
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

interface Child {
  readonly process: ChildProcess;
  /** Every line printed so far, parsed. */
  readonly lines: ChildLine[];
  /** Resolves once `count` lines of type `t` were printed; rejects if the child exits first. */
  nth(t: ChildLine['t'], count?: number): Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** What the child printed that was no line of its protocol, and its stderr. */
  readonly noise: () => string;
}

function startChild(args: string[]): Child {
  const child = spawn(process.execPath, [childScript, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const lines: ChildLine[] = [];
  const listeners = new Set<() => void>();
  let noise = '';
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (text) => {
    try {
      lines.push(JSON.parse(text) as ChildLine);
    } catch {
      // Only a line cut short by the kill: checked once the child exited.
      noise += `stdout: ${text}\n`;
    }
    for (const listener of listeners) listener();
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    noise += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('close', (code, signal) => {
      children.delete(child);
      done({ code, signal });
    }),
  );
  const nth = (t: ChildLine['t'], count = 1) =>
    new Promise<void>((done, fail) => {
      const check = () => {
        if (lines.filter((line) => line.t === t).length < count) return false;
        listeners.delete(listener);
        done();
        return true;
      };
      const listener = () => void check();
      if (check()) return;
      listeners.add(listener);
      void exited.then((how) =>
        fail(
          new Error(`the child exited (${JSON.stringify(how)}) before ${t} ×${count}: ${noise}`),
        ),
      );
    });
  return { process: child, lines, nth, exited, noise: () => noise };
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

const of = <T extends ChildLine['t']>(lines: ChildLine[], t: T) =>
  lines.filter((line): line is Extract<ChildLine, { t: T }> => line.t === t);

/** What one run said, checked against what the runs before it saved. */
interface Verdict {
  /** The highest number whose store write resolved, this run or before. */
  readonly saved: number;
  /** The run was killed while a batch was in the real store's hands. */
  readonly midWrite: boolean;
  /** The restored messages this run named. */
  readonly restored: number[];
  /** Drops, rejected restored promises, connection errors. */
  readonly problems: string[];
}

/**
 * The one store problem a kill may leave: the batch it cut short (a write that never
 * resolved, so nothing it held was used), reported when the next run opens the store.
 */
const isTornTail = (line: Extract<ChildLine, { t: 'error' }>) =>
  line.kind === 'store' &&
  line.message.includes(' 1 record(s) ') &&
  line.message.includes('cut short, with no end of line (a write that never finished)');

/**
 * A `session-lost` the client must report although the server never restarts: its saved
 * messages were marked sent, but none of them reached the server, which therefore never
 * knew the session and says so on the next `welcome`. The client cannot tell that from a
 * server that forgot (sessions.md §4), so it reports them; the server had taken nothing.
 */
const isNeverKnown = (line: Extract<ChildLine, { t: 'error' }>, takenBefore: number) =>
  line.kind === 'session-lost' && takenBefore === 0;

function judge(run: number, lines: ChildLine[], savedBefore: number, takenBefore: number): Verdict {
  const where = `run ${run}`;
  const restoredLines = of(lines, 'restored');
  expect(restoredLines.length, `${where}: restored fires once`).toBeLessThanOrEqual(1);
  const restored = restoredLines[0]?.ns ?? [];
  // D3: in serial order, which is the order the numbers were sent in.
  expect(restored, `${where}: restored in order`).toEqual(
    [...new Set(restored)].sort((a, b) => a - b),
  );
  const start = of(lines, 'start')[0];
  if (start !== undefined) {
    expect(restoredLines, `${where}: started without restored`).toHaveLength(1);
    expect(lines.indexOf(start), `${where}: restored before start`).toBeGreaterThan(
      lines.indexOf(restoredLines[0] as ChildLine),
    );
    // D1: a number whose save resolved is in the store (restored), or was removed once
    // confirmed (the removal record): the run goes on above it, never sends it as new.
    expect(
      start.from - 1,
      `${where}: a number whose save resolved was lost`,
    ).toBeGreaterThanOrEqual(savedBefore);
  }
  const saved = Math.max(savedBefore, ...of(lines, 'wrote').flatMap((line) => line.put));
  const writes = lines.filter((line) => line.t === 'write' || line.t === 'wrote');
  const problems = [
    ...of(lines, 'failed').map((l) => `${where}: send ${l.n} rejected (${l.reason})`),
    ...of(lines, 'settled')
      .filter((l) => !l.ok)
      .map((l) => `${where}: restored ${l.n} rejected (${l.reason})`),
    ...of(lines, 'error')
      .filter((l) => !isTornTail(l) && !isNeverKnown(l, takenBefore))
      .map((l) => `${where}: error ${l.kind}: ${l.message}`),
  ];
  return { saved, midWrite: writes.at(-1)?.t === 'write', restored, problems };
}

/** The numbers the server's app got twice, never, or out of order, for a readable failure. */
function irregularities(received: number[], last: number): string[] {
  const seen = new Set<number>();
  const repeated: number[] = [];
  const late: number[] = [];
  let top = 0;
  for (const n of received) {
    if (seen.has(n)) repeated.push(n);
    else if (n < top) late.push(n);
    seen.add(n);
    top = Math.max(top, n);
  }
  const missing: number[] = [];
  for (let n = 1; n <= Math.max(top, last); n++) if (!seen.has(n)) missing.push(n);
  const list = (ns: number[]) => `${ns.length}: ${ns.slice(0, 8).join(', ')}`;
  return [
    ...(repeated.length > 0 ? [`repeated ${list(repeated)}`] : []),
    ...(missing.length > 0 ? [`missing ${list(missing)}`] : []),
    ...(late.length > 0 ? [`out of order ${list(late)}`] : []),
  ];
}

describe('a client SIGKILLed at random moments (fileStore, WebSocket, reference server)', () => {
  // The title says KILLS as a number: the rule catalogue reads titles as written.
  it("durable: across 24 SIGKILLs of the client at seeded random moments, some during a store write, the server's app gets every number once and in order, and every restored promise settles (D1, D3, D4)", async () => {
    const random = seeded(SEED);
    const received: number[] = [];
    const serverErrors: unknown[] = [];
    const server = createServer({
      onMessage: ({ data }) => {
        const n = (data as { n?: unknown } | null)?.n;
        received.push(typeof n === 'number' ? n : Number.NaN);
      },
      onError: (error) => serverErrors.push(error),
    });
    listening = await server.listen(0, '127.0.0.1');
    const folder = join(work, 'client');
    await mkdir(folder);
    const args = (mode: string, seed: number, count = 0) => [
      mode,
      listening?.wsUrl ?? '',
      folder,
      String(seed),
      String(count),
    ];

    let saved = 0;
    let midWrite = 0;
    let restoredRuns = 0;
    const problems: string[] = [];
    for (let run = 1; run <= KILLS; run++) {
      const takenBefore = received.length;
      const child = startChild(args('run', Math.floor(random() * 2 ** 32)));
      const moment = random();
      if (moment < 0.2) {
        // While it starts, opens its store, restores or connects.
        await sleep(random() * 150);
      } else {
        await within(child.nth('start'), 10_000, `run ${run} to start`);
        if (moment < 0.6) await sleep(5 + random() * 55);
        // Just as a store write begins: the one that saves the sends of a tick.
        else await within(child.nth('write', 1 + Math.floor(random() * 25)), 10_000, 'writes');
      }
      child.process.kill('SIGKILL');
      const how = await child.exited;
      expect(how.signal, `run ${run} ended on its own: ${child.noise()}`).toBe('SIGKILL');
      // A kill may cut the child's last line short, and nothing else.
      expect(child.noise().split('\n').length, child.noise()).toBeLessThanOrEqual(2);
      const verdict = judge(run, child.lines, saved, takenBefore);
      saved = verdict.saved;
      if (verdict.midWrite) midWrite++;
      if (verdict.restored.length > 0) restoredRuns++;
      problems.push(...verdict.problems);
    }

    const takenBefore = received.length;
    const last = startChild(args('finish', Math.floor(random() * 2 ** 32), FINAL_COUNT));
    const how = await within(last.exited, 30_000, 'the last run to finish and exit').catch(
      (error: Error) => {
        throw new Error(`${error.message}; it said: ${JSON.stringify(last.lines.slice(-5))}`);
      },
    );
    expect(how, last.noise()).toEqual({ code: 0, signal: null });
    const verdict = judge(KILLS + 1, last.lines, saved, takenBefore);
    problems.push(...verdict.problems);
    const done = of(last.lines, 'done')[0];
    if (done === undefined) expect.fail(`the last run never finished: ${last.noise()}`);
    expect(of(last.lines, 'restored')).toHaveLength(1);
    // Every restored promise of the last run settled before it said done.
    const settled = of(last.lines, 'settled').map((l) => l.n);
    expect(settled.sort((a, b) => a - b)).toEqual(verdict.restored);

    // D1, D4: every number once, in order — none lost, none handed to the app twice.
    expect(irregularities(received, done.last), 'gaps or repeats at the server').toEqual([]);
    expect(received).toEqual(Array.from({ length: done.last }, (_, i) => i + 1));
    expect(done.last).toBeGreaterThanOrEqual(saved);
    expect(problems).toEqual([]);
    expect(serverErrors).toEqual([]);
    // The kills landed where they should: during writes, and with messages left to restore.
    expect(midWrite).toBeGreaterThanOrEqual(1);
    expect(restoredRuns).toBeGreaterThanOrEqual(1);
    expect(done.last).toBeGreaterThan(FINAL_COUNT);

    // Everything was confirmed and closed: the store holds nothing, and is free.
    const store = fileStore({ path: storeFolder(folder) });
    const opening = await store.open();
    if (opening.status !== 'open') expect.fail('the store is still owned after close()');
    expect(opening.outbox.messages).toEqual([]);
    expect(opening.outbox.problems).toEqual([]);
    await store.close();
  }, 90_000);
});
