/**
 * What `durable.test.ts` adds to the test page (`page.ts`): `window.d`, one connection per
 * page load with `indexedDbStore` over the browser's WebSocket, and what the test reads of
 * it. Plain JavaScript in a string, so that nothing of the test runner's transforms
 * reaches the page.
 *
 * Two spies sit around the real parts, so the page can see D1 for itself: the store
 * (every batch goes to `indexedDbStore`; what `open()` read, and the ids a batch put once
 * its write resolved, count as saved, and the page mirrors what the store holds), and the
 * WebSocket (every `send` frame
 * is checked, as it is written, against the ids saved so far). A frame whose message was
 * not saved yet is recorded in `unsaved`.
 */
import type { BrowserContext, Page } from 'playwright-core';

/** What the page recorded since it loaded. Messages are named by their number `n`. */
export interface DurableRecord {
  /** Each `restored` event: the messages' ids and numbers, in the order given. */
  restored: Array<Array<{ id: string; n: number }>>;
  /** Numbers whose `send()` promise or restored `settled` resolved, in that order. */
  confirmed: number[];
  /** Numbers whose promise rejected, with the DeliveryError's reason. */
  failed: Array<{ n: number; reason: string }>;
  /** The kind of each `error` event. */
  errors: string[];
  /** Each state entered. */
  states: string[];
  /** The connection's state now. */
  state: string | undefined;
  /** The numbers the store holds, as far as its resolved writes say, ascending. */
  stored: number[];
  /** `send` frames written to the WebSocket. */
  checked: number;
  /** Numbers whose `send` frame was written before a write holding them resolved (D1). */
  unsaved: number[];
}

/** `window.d`: what a test calls in the page (serializable in and out). */
export interface DurablePage {
  /** Create the connection, then send `{ tag, n }` for each number of `send` at once. */
  start(options: { url: string; name: string; tag: string; send: number[] }): void;
  send(tag: string, ns: number[]): void;
  close(): void;
  record(): DurableRecord;
}

const SCRIPT = `
import { createConnection, outboxStore } from '/dist/index.js';
import { webSocketTransport } from '/dist/websocket.js';
import { indexedDbStore } from '/dist/browser.js';
const record = { restored: [], confirmed: [], failed: [], errors: [], states: [], checked: 0, unsaved: [] };
const stored = new Map();
const saved = new Set();
let conn;
const numberOf = (json) => {
  try {
    return JSON.parse(json).n;
  } catch {
    return undefined;
  }
};
const reasonOf = (e) => (e && typeof e.reason === 'string' ? e.reason : String(e));
const watch = (promise, n) =>
  promise.then(
    () => { record.confirmed.push(n); },
    (e) => { record.failed.push({ n, reason: reasonOf(e) }); },
  );
window.d = {
  start({ url, name, tag, send }) {
    const inner = indexedDbStore({ name });
    // A spy is the page's own OutboxStore: outboxStore() makes it a connection's store.
    const store = outboxStore({
      // What an earlier page load saved is saved: it may go on the wire at once.
      async open() {
        const opening = await inner.open();
        if (opening.status === 'open')
          for (const m of opening.outbox.messages) {
            saved.add(m.id);
            stored.set(m.id, numberOf(m.json));
          }
        return opening;
      },
      async write(batch) {
        await inner.write(batch);
        for (const m of batch.put ?? []) {
          saved.add(m.id);
          stored.set(m.id, numberOf(m.json));
        }
        for (const id of batch.remove ?? []) stored.delete(id);
      },
      close: () => inner.close(),
    });
    class CheckedWebSocket extends WebSocket {
      send(text) {
        let frame;
        try {
          frame = JSON.parse(text);
        } catch {}
        if (frame && frame.type === 'send') {
          record.checked++;
          if (!saved.has(frame.id)) record.unsaved.push(frame.data && frame.data.n);
        }
        super.send(text);
      }
    }
    conn = createConnection({
      transport: webSocketTransport({ url, WebSocket: CheckedWebSocket }),
      store,
      backoff: () => 20,
    });
    conn.on('restored', (messages) => {
      record.restored.push(messages.map((m) => ({ id: m.id, n: m.data.n })));
      for (const m of messages) watch(m.settled, m.data.n);
    });
    conn.on('error', (e) => { record.errors.push(e.kind); });
    conn.on('state', (s) => { record.states.push(s); });
    window.d.send(tag, send);
  },
  send(tag, ns) {
    for (const n of ns) watch(conn.send({ tag, n }), n);
  },
  close() {
    conn.close();
  },
  record: () => ({
    ...record,
    state: conn && conn.state,
    stored: [...stored.values()].sort((a, b) => a - b),
  }),
};
window.durableReady = true;
`;

/** Load (or reload) the test page at `url` and add `window.d` to it. */
export async function loadDurablePage(page: Page, url: string, reload = false): Promise<void> {
  if (reload) await page.reload();
  else await page.goto(url);
  await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
  await page.addScriptTag({ type: 'module', content: SCRIPT });
  await page.waitForFunction(
    () => (window as unknown as { durableReady?: boolean }).durableReady === true,
  );
}

/** A new page of `context` (a tab of the same origin as the others) with `window.d`. */
export async function openDurablePage(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log(`page error: ${e.message}`));
  await loadDurablePage(page, url);
  return page;
}

/** Call `window.d[method](...args)` in the page. */
export function call<K extends keyof DurablePage>(
  page: Page,
  method: K,
  ...args: Parameters<DurablePage[K]>
): Promise<Awaited<ReturnType<DurablePage[K]>>> {
  return page.evaluate(
    ({ method, args }) =>
      (
        (window as unknown as { d: Record<string, (...a: unknown[]) => unknown> }).d[method] as (
          ...a: unknown[]
        ) => unknown
      )(...args),
    { method, args: args as unknown[] },
  ) as Promise<Awaited<ReturnType<DurablePage[K]>>>;
}

/** Wait until `check` holds of the page's record, polling in the page; fails naming `what`. */
export async function waitFor(
  page: Page,
  what: string,
  check: (record: DurableRecord) => boolean,
  ms = 10_000,
): Promise<DurableRecord> {
  const end = Date.now() + ms;
  for (;;) {
    const record = await call(page, 'record');
    if (check(record)) return record;
    if (Date.now() > end)
      throw new Error(`timed out waiting for ${what}; the page has ${JSON.stringify(record)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
