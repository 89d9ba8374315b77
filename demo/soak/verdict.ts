/**
 * The verdict, from two sides: what the servers' apps got (the arrivals files, or with
 * `--redis` the list in Redis the apps append to transactionally) against what each
 * client was told (its record). A message confirmed that never arrived, or that neither
 * arrived nor was rejected, is lost; one that arrived twice is a duplicate unless
 * a `session-lost` under 'resend' covered it; first arrivals out of send order are
 * reordered. On the feed: within one epoch no event twice and seqs increasing, a hole only
 * with a `gap`, an epoch change only with a `reset`, the library's epochs matching the
 * servers' own generations, and every client at the last event in the end.
 */
import { readFileSync } from 'node:fs';
import { type FeedTotals, feedVerdict, newFeedTotals } from './feed-verdict.js';
import { type ClientRecord, type FeedHead, Outcome } from './protocol.js';

export interface Totals {
  sent: number;
  confirmed: number;
  rejectedBy: Record<string, number>;
  /** Sends still unsettled at the end (each lost too, unless it arrived). */
  unsettled: number;
  arrivals: number;
  lost: number;
  duplicated: number;
  reordered: number;
  /** Arrived although its rejection said it never was on the wire. */
  arrivedThoughUnsent: number;
  /** Arrivals of a message no client sent, and lines that do not parse. */
  unknownArrivals: number;
  sessionLostReports: number;
  sessionLostMessages: number;
  /** Reports that named more messages than the client had unsettled (the cover would be short). */
  sessionLostShort: number;
  /** Messages that arrived twice, each covered by a reported `session-lost` ('resend'). */
  reportedResends: number;
  reconnects: number;
  errors: Record<string, number>;
  feed: FeedTotals;
}

export interface Arrivals {
  /** Per client, the n of each arrival, in the order the app took them. */
  byClient: Map<number, number[]>;
  /** Lines that do not parse. */
  bad: number;
}

/**
 * Every client's arrivals in order, from lines `c n …`: each node's file in turn (a
 * client is pinned to one node), or the one list the apps share on Redis.
 */
export function parseArrivals(lines: Iterable<string>): Arrivals {
  const byClient = new Map<number, number[]>();
  let bad = 0;
  for (const line of lines) {
    if (line === '') continue;
    const [c, n] = line.split(' ').map(Number);
    if (!Number.isInteger(c) || !Number.isInteger(n)) {
      bad++;
      continue;
    }
    const list = byClient.get(c as number) ?? [];
    byClient.set(c as number, list);
    list.push(n as number);
  }
  return { byClient, bad };
}

/** Every client's arrivals, from every node's file. */
export function readArrivals(files: readonly string[]): Arrivals {
  return parseArrivals(files.flatMap((file) => readFileSync(file, 'utf8').split('\n')));
}

const add = (into: Record<string, number>, from: Record<string, number>) => {
  for (const [key, n] of Object.entries(from)) into[key] = (into[key] ?? 0) + n;
};

export function judge(
  records: readonly ClientRecord[],
  arrivals: Arrivals,
  heads: readonly FeedHead[],
): Totals {
  const t: Totals = {
    sent: 0,
    confirmed: 0,
    rejectedBy: {},
    unsettled: 0,
    arrivals: 0,
    lost: 0,
    duplicated: 0,
    reordered: 0,
    arrivedThoughUnsent: 0,
    unknownArrivals: arrivals.bad,
    sessionLostReports: 0,
    sessionLostMessages: 0,
    sessionLostShort: 0,
    reportedResends: 0,
    reconnects: 0,
    errors: {},
    feed: newFeedTotals(),
  };
  const known = new Set(records.map((r) => r.plan.index));
  for (const [c, list] of arrivals.byClient) if (!known.has(c)) t.unknownArrivals += list.length;

  for (const r of records) {
    const got = arrivals.byClient.get(r.plan.index) ?? [];
    const times = new Uint16Array(r.sent + 1);
    // How many times a reported `session-lost` ('resend') covered each message.
    const resent = new Map<number, number>();
    for (const lost of r.sessionLost) {
      t.sessionLostReports++;
      t.sessionLostMessages += lost.count;
      if (lost.covered.length < lost.count) t.sessionLostShort++;
      if (lost.policy !== 'resend') continue;
      for (const n of lost.covered) resent.set(n, (resent.get(n) ?? 0) + 1);
    }
    let highest = 0;
    for (const n of got) {
      t.arrivals++;
      if (n < 1 || n > r.sent) {
        t.unknownArrivals++;
        continue;
      }
      times[n] = (times[n] as number) + 1;
      if (times[n] === 1) {
        if (n < highest) t.reordered++;
        highest = Math.max(highest, n);
      } else if ((times[n] as number) - 1 <= (resent.get(n) ?? 0)) t.reportedResends++;
      else t.duplicated++;
    }
    t.sent += r.sent;
    for (let n = 1; n <= r.sent; n++) {
      const outcome = r.outcome[n - 1];
      const arrived = (times[n] as number) > 0;
      if (outcome === Outcome.confirmed) t.confirmed++;
      if (outcome === Outcome.pending) t.unsettled++;
      if ((outcome === Outcome.confirmed || outcome === Outcome.pending) && !arrived) t.lost++;
      if (outcome === Outcome.rejectedUnsent && arrived) t.arrivedThoughUnsent++;
    }
    add(t.rejectedBy, r.rejectedBy);
    add(t.errors, r.errors);
    t.reconnects += r.reconnects;
    feedVerdict(r, heads[r.plan.node] as FeedHead, t.feed);
  }
  return t;
}

/** What makes the run fail, in words; empty when it passed. */
export function failures(t: Totals): string[] {
  const found: Array<[number, string]> = [
    [t.lost, 'messages lost (confirmed or unsettled, never arrived)'],
    [t.duplicated, 'messages handed to the server twice without a session-lost (resend)'],
    [t.reordered, 'messages that first arrived out of send order'],
    [t.arrivedThoughUnsent, 'messages rejected as never sent that arrived'],
    [t.unknownArrivals, 'arrivals no client sent'],
    [t.feed.duplicated, 'feed events delivered twice within an epoch'],
    [t.feed.reordered, 'feed events delivered out of seq order within an epoch'],
    [t.feed.unreportedHoles, 'feed holes without a gap error'],
    [t.feed.unreportedResets, 'feed epoch changes without a reset error'],
    [t.feed.mismatched, 'feed events whose epoch or seq disagree with the server'],
    [t.feed.behind, 'clients without the feed’s last event at the end'],
  ];
  return found.filter(([n]) => n > 0).map(([n, what]) => `${n} ${what}`);
}
