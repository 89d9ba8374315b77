/**
 * The durable outbox in real Chromium (durable.md §4): a page sends numbered messages with
 * `indexedDbStore` over the browser's WebSocket to the reference server, through a relay
 * (test/support/durable-relay.ts) that holds the server's acks, or the page's sends, when
 * told to. The page is reloaded mid-flight, or closed and followed by a new page of the
 * same origin, or shares its store's name with a second page; the server's app must see
 * every number exactly once, in order, and `restored` must list what was left unconfirmed.
 * Every frame the page writes is checked against what its store has saved (D1,
 * durable-page.ts). Everything waits for conditions, never for a guessed time.
 */
import { existsSync } from 'node:fs';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Listening } from '../../src/server/index.js';
import { type AckRelay, type RelayedSend, startRelay } from '../support/durable-relay.js';
import {
  call,
  type DurableRecord,
  loadDurablePage,
  openDurablePage,
  waitFor,
} from './durable-page.js';
import { servePage } from './page.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!existsSync(CHROMIUM)) {
  throw new Error(
    `Chromium is missing at ${CHROMIUM}: install it with  apt-get install -y chromium`,
  );
}

interface Received {
  tag: string;
  n: number;
  session: string | undefined;
  serial: number | undefined;
}

let browser: Browser;
let context: BrowserContext;
let listening: Listening;
let relay: AckRelay;
/** What the server's app was handed, in order. */
const received: Received[] = [];

beforeAll(async () => {
  const server = createServer({
    heartbeatMs: 100,
    fallback: servePage,
    onMessage: ({ data, session, serial }) => {
      const { tag, n } = data as { tag: string; n: number };
      received.push({ tag, n, session, serial });
    },
  });
  listening = await server.listen();
  relay = await startRelay(listening.wsUrl);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
  // One context: its pages share the origin's IndexedDB and Web Locks, as tabs do.
  context = await browser.newContext();
});

afterEach(() => relay?.release());

afterAll(async () => {
  await browser?.close();
  await relay?.close();
  await listening?.close();
});

let tests = 0;
/** A store name and a message tag no other test uses. */
function fresh() {
  tests++;
  return { name: `durable-${tests}-${Date.now()}`, tag: `t${tests}` };
}

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);
const numberOf = (send: RelayedSend) => (send.data as { n: number }).n;
const ascending = (ns: readonly number[]) => [...ns].sort((a, b) => a - b);

/** Poll `check` in Node until it holds, else fail naming `what`. */
async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The numbers of `tag` the server's app was handed, in order. */
const handed = (tag: string) => received.filter((m) => m.tag === tag).map((m) => m.n);

/** The send frames of `tag` that reached the relay, on links after `afterLink`. */
const sendsOf = (tag: string, afterLink = 0) =>
  relay.sends.filter((s) => (s.data as { tag?: string }).tag === tag && s.link > afterLink);

/** Whether the server gave a verdict on every one of `sends`, on their links. */
const answered = (sends: readonly RelayedSend[]) =>
  sends.every((s) => relay.verdicts.some((v) => v.link === s.link && v.id === s.id));

/** The first send of each number, by number. */
function firstSends(sends: readonly RelayedSend[]): Map<number, RelayedSend> {
  const first = new Map<number, RelayedSend>();
  for (const s of sends) if (!first.has(numberOf(s))) first.set(numberOf(s), s);
  return first;
}

/** Each number in the order its first send reached the relay. */
const sendOrder = (sends: readonly RelayedSend[]) => [...firstSends(sends).keys()];

/**
 * What a later page resent of `ns` keeps of what the page before sent: the same id, the
 * same session and the same serial (D3: restored under their stored session and serials).
 */
function expectResentAsBefore(
  before: readonly RelayedSend[],
  after: readonly RelayedSend[],
  ns: number[],
) {
  const old = firstSends(before);
  const again = firstSends(after);
  for (const n of ns) {
    const [was, is] = [old.get(n), again.get(n)];
    expect(is, `message ${n} resent`).toBeDefined();
    expect({ id: is?.id, session: is?.session, serial: is?.serial }).toEqual({
      id: was?.id,
      session: was?.session,
      serial: was?.serial,
    });
  }
}

/** The answers to `sends` the server gave: each must be an ack. */
const verdictsOn = (sends: readonly RelayedSend[]) =>
  sends.map((s) => relay.verdicts.find((v) => v.link === s.link && v.id === s.id)?.type);

const restoredNumbers = (record: DurableRecord) => record.restored.map((l) => l.map((m) => m.n));

/** Start the page's connection over the relay, sending `send` at once. */
const start = (page: Page, name: string, tag: string, send: number[]) =>
  call(page, 'start', { url: relay.url, name, tag, send });

/**
 * Start the page's connection, wait until it is open, then send `ns`: on an open link a
 * message sent without waiting for its save would be written to the socket in the very
 * task of its `send()`, before any IndexedDB write can have resolved (what D1 forbids).
 */
async function startOpen(page: Page, name: string, tag: string, ns: number[]): Promise<void> {
  await start(page, name, tag, []);
  await waitFor(page, 'the connection to open', (r) => r.state === 'open');
  await call(page, 'send', tag, ns);
}

describe('the durable outbox in Chromium (indexedDbStore over WebSocket)', () => {
  it('D1 D2 D3 D4 a page reloaded mid-flight with acks held sees restored with the unconfirmed; they are resent under their session and serials, answered as duplicates, and every message reaches the app once, in order, new serials above all used', async () => {
    const { name, tag } = fresh();
    // 4–6: the server handles them, the page never hears. 1–3 and 7–8 are confirmed, so
    // the store is left holding serials below the highest used.
    relay.hold({ verdict: (s) => [4, 5, 6].includes(numberOf(s)) });
    const page = await openDurablePage(context, listening.url);
    await startOpen(page, name, tag, range(1, 8));
    await until(() => handed(tag).length === 8, 'the app to have 1–8');
    const before = await waitFor(
      page,
      '1–3 and 7–8 confirmed and only 4–6 left in the store',
      (r) => ascending(r.confirmed).join() === '1,2,3,7,8' && r.stored.join() === '4,5,6',
    );
    expect(before.unsaved).toEqual([]);
    expect(before.checked).toBeGreaterThanOrEqual(8);
    expect(restoredNumbers(before)).toEqual([[]]);
    const sentBefore = sendsOf(tag);
    const lastLink = Math.max(...sentBefore.map((s) => s.link));

    await loadDurablePage(page, listening.url, true);
    // Sent at once, before the store has even opened: they go after the restored ones.
    await start(page, name, tag, [9, 10]);
    const resent = () => sendsOf(tag, lastLink);
    await until(
      () => sendOrder(resent()).length === 5 && answered(resent()),
      'the server to answer the resends of 4–6 and the new 9–10',
    );
    // The duplicates' acks are still held: nothing restored has settled yet.
    const held = await waitFor(page, '9–10 confirmed', (r) => r.confirmed.length === 2);
    expect(held.confirmed).toEqual([9, 10]);
    relay.release();
    const after = await waitFor(
      page,
      'every restored message settled and the store emptied',
      (r) => [4, 5, 6, 9, 10].every((n) => r.confirmed.includes(n)) && r.stored.length === 0,
    );

    expect(handed(tag)).toEqual(range(1, 10));
    expect(after.restored).toEqual([
      [4, 5, 6].map((n) => ({ id: firstSends(sentBefore).get(n)?.id, n })),
    ]);
    expect(sendOrder(resent())).toEqual([4, 5, 6, 9, 10]);
    expectResentAsBefore(sentBefore, resent(), [4, 5, 6]);
    expect(verdictsOn(resent())).toEqual(resent().map(() => 'ack'));
    const usedBefore = Math.max(...sentBefore.map((s) => s.serial ?? 0));
    for (const n of [9, 10])
      expect(firstSends(resent()).get(n)?.serial).toBeGreaterThan(usedBefore);
    expect(
      received.filter((m) => m.tag === tag).every((m) => m.session === sentBefore[0]?.session),
    ).toBe(true);
    expect(after.unsaved).toEqual([]);
    expect(after.failed).toEqual([]);
    expect(after.errors).toEqual([]);
    await page.close();
  });

  it('D3 D4 D7 a page closed mid-flight without close() leaves its outbox to the next page of its origin: restored there, resent, and every message reaches the app once, in order', async () => {
    const { name, tag } = fresh();
    // 3 is handled but never answered; 4 and 5 never reach the server at all.
    relay.hold({
      verdict: (s) => numberOf(s) === 3,
      sends: (s) => numberOf(s) >= 4,
    });
    const first = await openDurablePage(context, listening.url);
    await startOpen(first, name, tag, range(1, 5));
    await until(
      () => handed(tag).length === 3 && sendOrder(sendsOf(tag)).length === 5,
      'the app to have 1–3 and the relay to hold 4–5',
    );
    const before = await waitFor(
      first,
      '1–2 confirmed and 3–5 in the store',
      (r) => ascending(r.confirmed).join() === '1,2' && r.stored.join() === '3,4,5',
    );
    expect(before.unsaved).toEqual([]);
    const sentBefore = sendsOf(tag);
    const lastLink = Math.max(...sentBefore.map((s) => s.link));
    await first.close();
    await until(() => !relay.live().includes(lastLink), 'the relay to see the page gone');
    relay.release();

    const next = await openDurablePage(context, listening.url);
    await start(next, name, tag, [6, 7]);
    const after = await waitFor(next, '3–7 settled in the new page', (r) =>
      range(3, 7).every((n) => r.confirmed.includes(n)),
    );

    expect(handed(tag)).toEqual(range(1, 7));
    expect(after.restored).toEqual([
      [3, 4, 5].map((n) => ({ id: firstSends(sentBefore).get(n)?.id, n })),
    ]);
    const resent = sendsOf(tag, lastLink);
    expect(sendOrder(resent)).toEqual([3, 4, 5, 6, 7]);
    expectResentAsBefore(sentBefore, resent, [3, 4, 5]);
    expect(verdictsOn(resent)).toEqual(resent.map(() => 'ack'));
    const usedBefore = Math.max(...sentBefore.map((s) => s.serial ?? 0));
    for (const n of [6, 7]) expect(firstSends(resent).get(n)?.serial).toBeGreaterThan(usedBefore);
    expect(after.unsaved).toEqual([]);
    expect(after.failed).toEqual([]);
    expect(after.errors).toEqual([]);
    await next.close();
  });

  it.each(['the first page is closed', 'the first connection is closed'])(
    'D5 D7 two pages with one store name: the second reports store-busy once and waits in connecting; when %s it takes over, and nothing is lost or duplicated',
    async (how) => {
      const byPage = how === 'the first page is closed';
      const { name, tag } = fresh();
      relay.hold({ verdict: (s) => [3, 4].includes(numberOf(s)) });
      const first = await openDurablePage(context, listening.url);
      await startOpen(first, name, tag, range(1, 4));
      await until(() => handed(tag).length === 4, 'the app to have 1–4');
      const owner = await waitFor(
        first,
        '1–2 confirmed and 3–4 in the store',
        (r) => ascending(r.confirmed).join() === '1,2' && r.stored.join() === '3,4',
      );
      expect(owner.unsaved).toEqual([]);
      const sentBefore = sendsOf(tag);
      const lastLink = Math.max(...sentBefore.map((s) => s.link));

      const second = await openDurablePage(context, listening.url);
      await start(second, name, tag, [5, 6]);
      const waiting = await waitFor(second, 'store-busy', (r) => r.errors.includes('store-busy'));
      expect(waiting.state).toBe('connecting');
      expect(waiting.restored).toEqual([]);
      // Queued in memory while it waits: not one reached the server.
      expect(sendsOf(tag, lastLink)).toEqual([]);
      expect(handed(tag)).toEqual(range(1, 4));

      if (byPage) await first.close();
      else {
        await call(first, 'close');
        // D7: what was left is rejected, and removed from the store for the next owner.
        const closed = await waitFor(first, '3–4 rejected', (r) => r.failed.length === 2);
        expect(closed.failed).toEqual([
          { n: 3, reason: 'closed' },
          { n: 4, reason: 'closed' },
        ]);
      }
      await until(() => !relay.live().includes(lastLink), "the first page's link to close");
      relay.release();
      const left = byPage ? [3, 4] : [];
      const after = await waitFor(second, 'the second page to deliver what it has', (r) =>
        [...left, 5, 6].every((n) => r.confirmed.includes(n)),
      );

      expect(handed(tag)).toEqual(range(1, 6));
      expect(after.errors).toEqual(['store-busy']);
      expect(after.restored).toEqual([
        left.map((n) => ({ id: firstSends(sentBefore).get(n)?.id, n })),
      ]);
      const resent = sendsOf(tag, lastLink);
      expect(sendOrder(resent)).toEqual([...left, 5, 6]);
      expectResentAsBefore(sentBefore, resent, left);
      expect(verdictsOn(resent)).toEqual(resent.map(() => 'ack'));
      expect(after.unsaved).toEqual([]);
      expect(after.failed).toEqual([]);
      if (!byPage) await first.close();
      await second.close();
    },
  );
});
