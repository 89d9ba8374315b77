/**
 * Planning a resume on the reference server: the client's positions checked and merged,
 * the streams a connection may watch held to `maxStreamsPerConnection`, and `canWatch`
 * asked about each stream. What is refused here is never subscribed or replayed; the hub
 * does both once a plan is allowed.
 */
import { describeValue } from '../../adapters/describe.js';
import { WireLimit } from '../../adapters/protocol.js';
import { isName, isThenable, MAX_NAME_CHARS } from './checks.js';

/** Where a client is in one stream: its last seq, and the epoch it counts in (v2) if any. */
export interface Position {
  readonly seq: number;
  readonly epoch?: string;
}

/** A resume's positions, checked: one per stream, the smallest seq it was given. */
export interface ResumePlan {
  readonly positions: ReadonlyMap<string, Position>;
}

/** Why a resume is refused; the wire half turns it into a close code or a status. */
export interface ResumeRefusal {
  /**
   * `invalid`: not `[{ stream, seq }]`, or a stream name out of bounds. `too-many`: past
   * `maxStreamsPerConnection`. `forbidden`: `canWatch` said no. `failed`: `canWatch`
   * threw (reported). `gone`: the link closed or was dropped meanwhile.
   */
  readonly refused: 'invalid' | 'too-many' | 'forbidden' | 'failed' | 'gone';
  readonly error: string;
}

/**
 * A resume's `streams` checked: `[{ stream, seq, epoch? }]` with names of 1–256
 * characters and epochs of 1–64; positions for the same stream merged into one, at the
 * smallest seq (nothing is skipped, and each stream is replayed once; positions in two
 * different epochs merge to seq 0, everything); and the streams the connection would then
 * watch (it watches `watched` now) within `maxStreams`.
 */
export function planResume(
  watched: ReadonlySet<string>,
  value: unknown,
  maxStreams: number,
): ResumePlan | ResumeRefusal {
  const shape = {
    refused: 'invalid',
    error: 'resume needs streams: [{ stream, seq, epoch? }]',
  } as const;
  if (!Array.isArray(value)) return shape;
  const positions = new Map<string, Position>();
  for (const item of value) {
    if (typeof item !== 'object' || item === null) return shape;
    const { stream, seq, epoch } = item as { stream?: unknown; seq?: unknown; epoch?: unknown };
    if (typeof stream !== 'string' || typeof seq !== 'number') return shape;
    if (!Number.isSafeInteger(seq) || seq < 0) return shape;
    if (!isName(stream))
      return {
        refused: 'invalid',
        error: `stream names must be 1–${MAX_NAME_CHARS} characters, got ${describeValue(stream)}`,
      };
    if (epoch !== undefined && !isEpoch(epoch))
      return {
        refused: 'invalid',
        error: `epochs must be 1–${WireLimit.epochChars} characters, got ${describeValue(epoch)}`,
      };
    const known = positions.get(stream);
    if (known === undefined) positions.set(stream, epoch === undefined ? { seq } : { seq, epoch });
    else if (known.epoch !== epoch) positions.set(stream, { seq: 0 });
    else if (seq < known.seq) positions.set(stream, { ...known, seq });
    if (positions.size > maxStreams) return tooMany(maxStreams);
  }
  return withinLimit(watched, positions, maxStreams) ? { positions } : tooMany(maxStreams);
}

/** The refusal of a resume that would take a connection past `maxStreams`. */
export function tooMany(maxStreams: number): ResumeRefusal {
  return {
    refused: 'too-many',
    error: `a connection may watch at most ${maxStreams} streams`,
  };
}

/** Whether watching `positions` as well as `watched` stays within `maxStreams`. */
export function withinLimit(
  watched: ReadonlySet<string>,
  positions: ReadonlyMap<string, unknown>,
  maxStreams: number,
): boolean {
  let count = watched.size;
  for (const stream of positions.keys()) if (!watched.has(stream)) count++;
  return count <= maxStreams;
}

/**
 * Ask `canWatch` about every stream of the plan, then `proceed` when it allowed them
 * all. Synchronous unless `canWatch` returns a promise. A throw or a rejection is handed
 * to `report` and fails the resume; one answer other than `true` forbids it.
 */
export function askCanWatch(
  plan: ResumePlan,
  canWatch: (stream: string) => boolean | Promise<boolean>,
  report: (error: unknown) => void,
  proceed: () => ResumeRefusal | undefined | Promise<ResumeRefusal | undefined>,
): ResumeRefusal | undefined | Promise<ResumeRefusal | undefined> {
  const streams = [...plan.positions.keys()];
  const failed = (error: unknown): ResumeRefusal => {
    report(error);
    return { refused: 'failed', error: 'canWatch failed' };
  };
  let verdicts: unknown[];
  try {
    verdicts = streams.map((stream) => canWatch(stream));
  } catch (error) {
    return failed(error);
  }
  const decide = (answers: readonly unknown[]) => {
    const at = answers.findIndex((answer) => answer !== true);
    const stream = streams[at];
    if (stream !== undefined)
      return {
        refused: 'forbidden',
        error: `may not watch stream ${describeValue(stream)}`,
      } as const;
    return proceed();
  };
  if (!verdicts.some(isThenable)) return decide(verdicts);
  return Promise.all(verdicts).then(decide, failed);
}

/** An epoch: a string of 1–64 characters. */
function isEpoch(value: unknown): value is string {
  return typeof value === 'string' && value.length >= 1 && value.length <= WireLimit.epochChars;
}

/**
 * The streams of an unwatch checked: `[name, …]`, names of 1–256 characters, at most
 * `WireLimit.streamsPerRequest` of them. The names, or the problem named.
 */
export function planUnwatch(value: unknown): string[] | { problem: string } {
  if (!Array.isArray(value) || !value.every(isName))
    return { problem: `unwatch needs streams: [name, …], names of 1–${MAX_NAME_CHARS} characters` };
  if (value.length > WireLimit.streamsPerRequest)
    return {
      problem: `an unwatch names at most ${WireLimit.streamsPerRequest} streams, got ${value.length}`,
    };
  return value;
}
