/**
 * The feed side of the verdict, for one client: the events its app got, in order, each
 * with the epoch the library counted it in and the generation and counter the server
 * process put in its data (its ground truth: a new process, a new generation, from 1).
 */
import type { ClientRecord, FeedHead } from './protocol.js';

export interface FeedTotals {
  events: number;
  resets: number;
  gaps: number;
  duplicated: number;
  reordered: number;
  unreportedHoles: number;
  unreportedResets: number;
  /** Events whose library epoch and server generation do not map one to one, or seq ≠ counter. */
  mismatched: number;
  /** Clients whose last event is not the last one their node published. */
  behind: number;
}

export const newFeedTotals = (): FeedTotals => ({
  events: 0,
  resets: 0,
  gaps: 0,
  duplicated: 0,
  reordered: 0,
  unreportedHoles: 0,
  unreportedResets: 0,
  mismatched: 0,
  behind: 0,
});

/**
 * `resets` and `gaps` hold how many events the app had got when each was reported. A
 * `reset` comes before the replay of the new epoch; a `gap` right after the event past the
 * hole.
 */
export function feedVerdict(r: ClientRecord, head: FeedHead, t: FeedTotals): void {
  const reportedIn = (list: number[], from: number, to: number) =>
    list.some((at) => at >= from && at <= to);
  const genOfEpoch = new Map<number, number>();
  const epochOfGen = new Map<number, number>();
  const count = r.feedSeq.length;
  t.events += count;
  t.resets += r.resets.length;
  t.gaps += r.gaps.length;
  for (let i = 0; i < count; i++) {
    const seq = r.feedSeq[i] as number;
    const epoch = r.feedEpoch[i] as number;
    const gen = r.feedGen[i] as number;
    // Reported after the event before this one was delivered, and before this one.
    const resetBefore = reportedIn(r.resets, i, i);
    const sameEpoch = i > 0 && r.feedEpoch[i - 1] === epoch;
    if (i > 0 && !sameEpoch && !resetBefore) t.unreportedResets++;
    const last = sameEpoch && !resetBefore ? (r.feedSeq[i - 1] as number) : 0;
    if (seq === last) t.duplicated++;
    else if (seq < last) t.reordered++;
    else if (seq > last + 1 && !reportedIn(r.gaps, i + 1, i + 1)) t.unreportedHoles++;
    if ((genOfEpoch.get(epoch) ?? gen) !== gen || (epochOfGen.get(gen) ?? epoch) !== epoch) {
      t.mismatched++;
    }
    genOfEpoch.set(epoch, gen);
    epochOfGen.set(gen, epoch);
    if (r.feedK[i] !== seq) t.mismatched++;
  }
  const last = count - 1;
  const caughtUp =
    last >= 0 && r.gens[r.feedGen[last] as number] === head.gen && r.feedK[last] === head.head;
  if (!caughtUp) t.behind++;
}
