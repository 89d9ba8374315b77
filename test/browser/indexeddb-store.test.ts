/**
 * `indexedDbStore()` in real Chromium (Debian's, via playwright-core), from the built
 * bundle: the semantics it shares with `memoryStore`, what survives a reload, ownership
 * between pages of one origin (Web Locks, D5), a real quota failure, and bad records.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutboxStore, StoredMessage, StoredOutbox } from '../../adapters/store.js';
import { type StoreSubject, storeCases } from '../support/store-cases.js';
import { servePage } from './page.js';
import { call, loadStorePage } from './store-page.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!existsSync(CHROMIUM)) {
  throw new Error(
    `Chromium is missing at ${CHROMIUM}: install it with  apt-get install -y chromium`,
  );
}

let browser: Browser;
let context: BrowserContext;
let http: Server;
let url: string;

beforeAll(async () => {
  http = createServer(servePage);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
  // One context: its pages share the origin's IndexedDB and Web Locks, as tabs do.
  context = await browser.newContext();
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => http?.close(resolve));
});

let names = 0;
/** A store name no other test uses (the context's storage lives for the whole file). */
const fresh = () => `t${++names}-${Date.now()}`;

async function newPage(in_ = context): Promise<Page> {
  const page = await in_.newPage();
  page.on('pageerror', (e) => console.log(`page error: ${e.message}`));
  await loadStorePage(page, url);
  return page;
}

const message = (id: string, serial: number, sent = false): StoredMessage => ({
  id,
  serial,
  json: JSON.stringify({ id }),
  retry: true,
  sent,
});

const SESSION = 'S'.repeat(22);

async function outbox(page: Page, name: string): Promise<StoredOutbox> {
  const opening = await call(page, 'open', name);
  if (opening.status !== 'open') throw new Error(`${name} is ${opening.status}`);
  return opening.outbox;
}

/** Poll `check` in Node until it holds (ms), else fail naming `what`. */
async function until(check: () => Promise<boolean>, what: string, ms = 5000) {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The stores of `name` in `page`, reached from Node: every `store()` is a new store object
 * in the page, and a busy answer's `released` resolves once the page saw its own resolve.
 */
function pageSubject(page: Page, name: string): StoreSubject {
  return {
    store(): OutboxStore {
      let made: Promise<string> | undefined;
      const key = () => {
        made ??= call(page, 'make', name);
        return made;
      };
      return {
        async open() {
          const opening = await call(page, 'open', await key());
          if (opening.status === 'open') return opening;
          const k = await key();
          const released = new Promise<void>((resolve) => {
            const poll = () =>
              call(page, 'released', k).then(
                (yes) => (yes ? resolve() : setTimeout(poll, 10)),
                () => {}, // the page is gone
              );
            poll();
          });
          const cancel = () => {
            call(page, 'cancel', k).catch(() => {});
          };
          return { status: 'busy', released, cancel };
        },
        async write(batch) {
          const result = await call(page, 'write', await key(), batch);
          if (result !== 'ok') throw new Error(result);
        },
        async close() {
          await call(page, 'close', await key());
        },
      };
    },
  };
}

describe('the OutboxStore contract cases, on indexedDbStore in Chromium', () => {
  let page: Page;
  beforeAll(async () => {
    page = await newPage();
  });
  afterAll(() => page?.close());
  for (const c of storeCases) it(c.name, () => c.run(pageSubject(page, fresh())));
});

describe('indexedDbStore in Chromium', () => {
  it('a new store opens empty; a batch applies every field, puts replace by id, the reservation never goes down; all of it is read back', async () => {
    const page = await newPage();
    const name = fresh();
    expect(await outbox(page, name)).toEqual({
      session: undefined,
      reserved: 0,
      messages: [],
      positions: [],
      problems: [],
    });
    expect(
      await call(page, 'write', name, {
        session: SESSION,
        reserved: 1000,
        put: [message('a', 1), message('b', 2), message('c', 3)],
        positions: [{ stream: 'old', seq: 1 }],
      }),
    ).toBe('ok');
    expect(
      await call(page, 'write', name, {
        reserved: 10,
        put: [message('a', 1, true), { ...message('d', 4), retry: false }],
        remove: ['b', 'unknown'],
        positions: [
          { stream: 'chat', seq: 4, epoch: 'e1' },
          { stream: 'news', seq: 0 },
        ],
      }),
    ).toBe('ok');
    expect(await call(page, 'write', name, {})).toBe('ok');
    await call(page, 'close', name);
    const read = await outbox(page, name);
    expect(read).toEqual({
      session: SESSION,
      reserved: 1000,
      messages: [message('a', 1, true), message('c', 3), { ...message('d', 4), retry: false }],
      positions: [
        { stream: 'chat', seq: 4, epoch: 'e1' },
        { stream: 'news', seq: 0 },
      ],
      problems: [],
    });
    await page.close();
  });

  it('a batch the quota refuses rejects and applies nothing; a bad batch or a write without owning is refused', async () => {
    const own = await browser.newContext();
    const page = await newPage(own);
    const name = fresh();
    // A real QuotaExceededError: the origin's quota is set far below the batch to come
    // (DevTools' "custom storage quota"; set before the database opens, which reads it).
    const cdp = await own.newCDPSession(page);
    const origin = new URL(url).origin;
    await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 500_000 });
    await outbox(page, name);
    expect(await call(page, 'write', name, { put: [message('kept', 1)], reserved: 10 })).toBe('ok');
    // Random, so that no compression brings it under the quota.
    const noise = randomBytes(1_500_000).toString('base64');
    const big = { ...message('big', 3), json: JSON.stringify(noise) };
    const refused = await call(page, 'write', name, {
      session: SESSION,
      reserved: 5000,
      put: [message('small', 2), big],
      remove: ['kept'],
      positions: [{ stream: 'chat', seq: 9 }],
    });
    expect(refused).toMatch(/not saved.*QuotaExceededError/);
    await cdp.send('Storage.overrideQuotaForOrigin', { origin });
    expect(await call(page, 'write', name, { put: [{ ...message('bad', 0) }] })).toMatch(
      /TypeError: .*a bad batch.*serial 0/,
    );
    expect(await call(page, 'write', name, { remove: [7 as unknown as string] })).toMatch(
      /bad batch/,
    );
    await call(page, 'close', name);
    expect(await call(page, 'write', name, { put: [message('late', 4)] })).toMatch(
      /without owning/,
    );
    expect(await outbox(page, name)).toEqual({
      session: undefined,
      reserved: 10,
      messages: [message('kept', 1)],
      positions: [],
      problems: [],
    });
    await own.close();
  });

  it('what one page load wrote, the next reads back: after a reload, and in a new page', async () => {
    const page = await newPage();
    const name = fresh();
    await outbox(page, name);
    await call(page, 'write', name, { session: SESSION, reserved: 1000, put: [message('a', 1)] });
    // No close(): the page just goes, as a reload or a crash does.
    await loadStorePage(page, url, true);
    const read = await outbox(page, name);
    expect(read.messages).toEqual([message('a', 1)]);
    expect(read.session).toBe(SESSION);
    await call(page, 'write', name, { put: [message('b', 2)] });
    await page.close();
    const next = await newPage();
    expect((await outbox(next, name)).messages).toEqual([message('a', 1), message('b', 2)]);
    await next.close();
  });

  it('a second page is busy until the first closes the store, then takes over everything; the lock is handed over, not dropped', async () => {
    const [first, second, third] = await Promise.all([newPage(), newPage(), newPage()]);
    const name = fresh();
    await outbox(first, name);
    await call(first, 'write', name, { put: [message('a', 1)] });
    expect(await call(second, 'open', name)).toEqual({ status: 'busy' });
    await new Promise((r) => setTimeout(r, 200));
    expect(await call(second, 'released', name)).toBe(false);
    await call(first, 'close', name);
    await until(() => call(second, 'released', name), 'the second page released');
    // The second page holds the lock already: a third that asks now is busy.
    expect(await call(third, 'open', name)).toEqual({ status: 'busy' });
    expect((await outbox(second, name)).messages).toEqual([message('a', 1)]);
    // A write from the page that let go is refused; the first page asks again: busy.
    expect(await call(first, 'write', name, { put: [message('x', 9)] })).toMatch(/without owning/);
    expect(await call(first, 'open', name)).toEqual({ status: 'busy' });
    await Promise.all([first.close(), second.close(), third.close()]);
  });

  it('a page that gives up waiting, or never takes the lock it was handed, holds nothing', async () => {
    const [owner, quitter, last] = await Promise.all([newPage(), newPage(), newPage()]);
    const name = fresh();
    await outbox(owner, name);
    expect(await call(quitter, 'open', name)).toEqual({ status: 'busy' });
    await call(quitter, 'close', name);
    await call(owner, 'close', name);
    // The quitter's wait was withdrawn: the store is free, not handed to it.
    await outbox(last, name);
    expect(await call(quitter, 'open', name)).toEqual({ status: 'busy' });
    await call(last, 'close', name);
    await until(() => call(quitter, 'released', name), 'handed over to the quitter');
    expect(await call(last, 'open', name)).toEqual({ status: 'busy' });
    // Handed the lock, the quitter closes without opening: the lock goes on to the next.
    await call(quitter, 'close', name);
    await until(() => call(last, 'released', name), 'handed on to the last page');
    await outbox(last, name);
    await Promise.all([owner.close(), quitter.close(), last.close()]);
  });

  it('an owner page that is closed, or navigates away, frees the store at once', async () => {
    const [owner, waiter] = await Promise.all([newPage(), newPage()]);
    const name = fresh();
    await outbox(owner, name);
    expect(await call(waiter, 'open', name)).toEqual({ status: 'busy' });
    let started = Date.now();
    await owner.goto('about:blank');
    await until(() => call(waiter, 'released', name), 'released after navigation', 2000);
    const afterNavigation = Date.now() - started;
    await outbox(waiter, name);
    const next = await newPage();
    expect(await call(next, 'open', name)).toEqual({ status: 'busy' });
    started = Date.now();
    await waiter.close();
    await until(() => call(next, 'released', name), 'released after the page closed', 2000);
    const afterClose = Date.now() - started;
    await outbox(next, name);
    expect(Math.max(afterNavigation, afterClose)).toBeLessThan(2000);
    await Promise.all([owner.close(), next.close()]);
  });

  it('different names are independent', async () => {
    const [one, two] = await Promise.all([newPage(), newPage()]);
    const [a, b] = [fresh(), fresh()];
    await outbox(one, a);
    await outbox(two, b);
    await call(one, 'write', a, { put: [message('in-a', 1)] });
    await call(two, 'write', b, { put: [message('in-b', 1)] });
    await Promise.all([call(one, 'close', a), call(two, 'close', b)]);
    expect((await outbox(two, a)).messages).toEqual([message('in-a', 1)]);
    expect((await outbox(one, b)).messages).toEqual([message('in-b', 1)]);
    await Promise.all([one.close(), two.close()]);
  });

  it('bad records are reported and skipped, the good ones kept; a bad reservation drops the session', async () => {
    const page = await newPage();
    const name = fresh();
    await outbox(page, name);
    await call(page, 'write', name, {
      session: SESSION,
      reserved: 100,
      put: [message('good', 1)],
      positions: [{ stream: 'chat', seq: 3 }],
    });
    await call(page, 'close', name);
    const raw = (store: string, key: string, value: unknown) =>
      call(page, 'raw', name, store, key, value);
    await raw('messages', 'zero', { ...message('zero', 0) });
    await raw('messages', 'moved', message('elsewhere', 2));
    await raw('messages', 'text', 'not a record');
    await raw('messages', 'nojson', { ...message('nojson', 3), json: { a: 1 } });
    await raw('positions', 'bad', { stream: 'bad', seq: -1 });
    await raw('meta', 'reserved', 'lots');
    const read = await outbox(page, name);
    expect(read.messages).toEqual([message('good', 1)]);
    expect(read.positions).toEqual([{ stream: 'chat', seq: 3 }]);
    expect(read.reserved).toBe(0);
    expect(read.session).toBeUndefined();
    expect(read.problems).toEqual([
      expect.stringMatching(/reservation "lots" was skipped.*session is not restored/),
      expect.stringMatching(/Message "moved" .*filed under another key \("elsewhere"\)/),
      expect.stringMatching(/Message "nojson" .*json is an object/),
      expect.stringMatching(/Message "text" .*it is "not a record"/),
      expect.stringMatching(/Message "zero" .*serial 0 is not an integer ≥ 1/),
      expect.stringMatching(/Position "bad" .*seq -1/),
    ]);
    // Writing over the bad reservation heals it.
    expect(await call(page, 'write', name, { reserved: 7 })).toBe('ok');
    await call(page, 'close', name);
    expect((await outbox(page, name)).reserved).toBe(7);
    await page.close();
  });

  it('a store from a future format is reported and read as far as it is understood', async () => {
    const page = await newPage();
    const name = fresh();
    await outbox(page, name);
    await call(page, 'write', name, { put: [message('a', 1)] });
    await call(page, 'close', name);
    await call(page, 'raw', name, 'meta', 'format', 2);
    await call(page, 'raw', name, 'messages', 'b', { id: 'b', serial: 2, body: '"future"' });
    const read = await outbox(page, name);
    expect(read.messages).toEqual([message('a', 1)]);
    expect(read.problems).toEqual([
      expect.stringMatching(/format 2, not the format 1 this holdfast reads/),
      expect.stringMatching(/Message "b" was skipped: its json is undefined/),
    ]);
    // It still takes writes, and never lowers the format it found.
    expect(await call(page, 'write', name, { put: [message('c', 3)] })).toBe('ok');
    await call(page, 'close', name);
    expect((await outbox(page, name)).problems[0]).toMatch(/format 2/);
    await page.close();
  });

  it('without Web Locks or IndexedDB open() rejects with a TypeError naming the option', async () => {
    const page = await newPage();
    expect(await call(page, 'openWith', { name: '' })).toMatch(/TypeError: .*name must be/);
    expect(await call(page, 'openWith', { locks: {} })).toMatch(/TypeError: .*locks must be/);
    await page.evaluate(() => Object.defineProperty(navigator, 'locks', { value: undefined }));
    expect(await call(page, 'openWith', { name: fresh() })).toMatch(
      /TypeError: .*no global navigator\.locks.*pass the locks option/,
    );
    await page.evaluate(() => Object.defineProperty(window, 'indexedDB', { value: undefined }));
    expect(await call(page, 'openWith', { name: fresh() })).toMatch(
      /TypeError: .*no global indexedDB.*pass the indexedDB option/,
    );
    await page.close();
  });
});
