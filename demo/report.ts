/** The demo's verdict: one row per client, counted at the server (sends) and at the client (feed). */
import type { Console } from 'node:console';
import type { ClientRun } from './client.js';

export interface ClientRow {
  name: string;
  transport: ClientRun['transport'];
  sent: number;
  /**
   * --durable: sent by a client that was then killed, before its save completed: never
   * confirmed and never restored, so not expected (and not counted as lost).
   */
  unsaved?: number;
  /** --durable: sent − unsaved: every message confirmed, dropped or restored. */
  expected?: number;
  /** --durable: unsaved messages that reached the server all the same (a store bug: 0). */
  unsavedArrived?: number;
  delivered: number;
  duplicates: number;
  outOfOrder: number;
  lost: number;
  dropped: number;
  /** --durable: kills survived, and the messages the store restored after them. */
  restarts?: number;
  restored?: number;
  reconnects: number;
  feed: number;
  p50Ms: number;
  p99Ms: number;
}

function outOfOrder(values: number[], strict: boolean): number {
  let count = 0;
  for (let i = 1; i < values.length; i++) {
    const prev = values[i - 1] as number;
    const now = values[i] as number;
    if (strict ? now !== prev + 1 : now < prev) count++;
  }
  return count;
}

const percentile = (sorted: number[], p: number) =>
  Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0);

export function clientRows(
  clients: readonly ClientRun[],
  arrivals: ReadonlyMap<string, number[]>,
  published: number,
): ClientRow[] {
  return clients.map((c) => {
    const got = arrivals.get(c.name) ?? [];
    const arrived = new Set(got);
    const feedUnique = new Set(c.feed).size;
    const latencies = [...c.latencies].sort((a, b) => a - b);
    // Expected: every number settled (by send() or a restored promise) or restored. The
    // rest were sent by a client killed before their save completed.
    const expected = (n: number) => c.outcomes.has(n) || c.durable?.restored.has(n) === true;
    let unsaved = 0;
    let unsavedArrived = 0;
    let dropped = 0;
    let lost = published - feedUnique;
    for (let n = 1; n <= c.sent; n++) {
      if (!expected(n)) {
        unsaved++;
        if (arrived.has(n)) unsavedArrived++;
      } else if (c.outcomes.get(n) === 'dropped') dropped++;
      else if (!arrived.has(n)) lost++;
    }
    const durable = c.durable && {
      unsaved,
      expected: c.sent - unsaved,
      unsavedArrived,
    };
    return {
      name: c.name,
      transport: c.transport,
      sent: c.sent,
      ...durable,
      delivered: arrived.size,
      duplicates: got.length - arrived.size + (c.feed.length - feedUnique),
      outOfOrder: outOfOrder(got, false) + outOfOrder(c.feed, true),
      lost,
      dropped,
      ...(c.durable && { restarts: c.durable.restarts, restored: c.durable.restoredTotal }),
      reconnects: c.reconnects,
      feed: feedUnique,
      p50Ms: percentile(latencies, 0.5),
      p99Ms: percentile(latencies, 0.99),
    };
  });
}

export const anythingWrong = (rows: readonly ClientRow[]) =>
  rows.some(
    (r) => r.lost > 0 || r.duplicates > 0 || r.outOfOrder > 0 || (r.unsavedArrived ?? 0) > 0,
  );

/** The table and the one-line verdict, for people. */
export function printReport(out: Console, rows: ClientRow[], published: number): void {
  out.log('');
  out.table(rows);
  const durable = rows.filter((r) => r.restarts !== undefined);
  if (durable.length > 0) {
    const sum = (key: 'restarts' | 'restored' | 'unsaved') =>
      durable.reduce((total, r) => total + (r[key] ?? 0), 0);
    out.log(
      `durable: ${sum('restarts')} restart(s) of a client killed without close(), ${sum('restored')} message(s) restored from the fileStores (summed over restarts); ${sum('unsaved')} unsaved at the kill (send() called, save not complete: not expected, not counted as lost).`,
    );
  }
  out.log(
    `feed: ${published} events published; sends counted at the server, the feed at each client. ${
      anythingWrong(rows)
        ? 'FAIL: something was lost, duplicated or reordered.'
        : 'Nothing lost, duplicated or reordered.'
    }`,
  );
}
