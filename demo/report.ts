/** The demo's verdict: one row per client, counted at the server (sends) and at the client (feed). */
import type { Console } from 'node:console';
import type { ClientRun } from './client.js';

export interface ClientRow {
  name: string;
  transport: ClientRun['transport'];
  sent: number;
  delivered: number;
  duplicates: number;
  outOfOrder: number;
  lost: number;
  dropped: number;
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
    const unique = new Set(got).size;
    const feedUnique = new Set(c.feed).size;
    const latencies = [...c.latencies].sort((a, b) => a - b);
    return {
      name: c.name,
      transport: c.transport,
      sent: c.sent,
      delivered: unique,
      duplicates: got.length - unique + (c.feed.length - feedUnique),
      outOfOrder: outOfOrder(got, false) + outOfOrder(c.feed, true),
      lost: c.sent - c.dropped - unique + (published - feedUnique),
      dropped: c.dropped,
      reconnects: c.reconnects,
      feed: feedUnique,
      p50Ms: percentile(latencies, 0.5),
      p99Ms: percentile(latencies, 0.99),
    };
  });
}

export const anythingWrong = (rows: readonly ClientRow[]) =>
  rows.some((r) => r.lost > 0 || r.duplicates > 0 || r.outOfOrder > 0);

/** The table and the one-line verdict, for people. */
export function printReport(out: Console, rows: ClientRow[], published: number): void {
  out.log('');
  out.table(rows);
  out.log(
    `feed: ${published} events published; sends counted at the server, the feed at each client. ${
      anythingWrong(rows)
        ? 'FAIL: something was lost, duplicated or reordered.'
        : 'Nothing lost, duplicated or reordered.'
    }`,
  );
}
