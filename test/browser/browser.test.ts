/**
 * Real Chromium (Debian's /usr/bin/chromium, never a downloaded browser) driven by
 * playwright-core. The page loads the built ESM bundle from the reference server and
 * uses the browser's own WebSocket, EventSource and fetch.
 */
import { existsSync } from 'node:fs';
import { build } from 'esbuild';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { sseTransport } from '../../adapters/sse.js';
import type { webSocketTransport } from '../../adapters/websocket.js';
import type { bindPageLifecycle } from '../../src/browser.js';
import type { createConnection } from '../../src/index.js';
import { createServer, type Listening, type ReferenceServer } from '../../src/server/index.js';
import { until } from '../integration/wire.js';
import { extraScripts, servePage } from './page.js';

/** What the page puts on `window.holdfast`: the built bundle's exports. */
interface PageApi {
  createConnection: typeof createConnection;
  webSocketTransport: typeof webSocketTransport;
  sseTransport: typeof sseTransport;
  bindPageLifecycle: typeof bindPageLifecycle;
}

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!existsSync(CHROMIUM)) {
  throw new Error(
    `Chromium is missing at ${CHROMIUM}: install it with  apt-get install -y chromium`,
  );
}

let browser: Browser;
let server: ReferenceServer;
let listening: Listening;
const received: Array<{ client: string; n: number }> = [];

beforeAll(async () => {
  server = createServer({
    heartbeatMs: 100,
    fallback: servePage,
    onMessage: ({ data }) => received.push(data as { client: string; n: number }),
  });
  listening = await server.listen();
  // The React example, bundled for the page with React; xstate comes from the import map.
  const bundle = await build({
    stdin: {
      contents: `
        import { createElement } from 'react';
        import { createRoot } from 'react-dom/client';
        import { ConnectionStatus } from './examples/react-status.tsx';
        window.renderStatus = (conn, element) => createRoot(element).render(createElement(ConnectionStatus, { conn }));`,
      resolveDir: new URL('../..', import.meta.url).pathname,
      loader: 'tsx',
    },
    bundle: true,
    format: 'esm',
    jsx: 'automatic',
    external: ['xstate'],
    define: { 'process.env.NODE_ENV': '"production"' },
    write: false,
    logLevel: 'silent',
  });
  extraScripts.set('/react-example.js', bundle.outputFiles[0]?.text ?? '');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  await listening?.close();
});

async function openPage(): Promise<Page> {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.log(`page error: ${e.message}`));
  await page.goto(listening.url);
  await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
  return page;
}

describe.each(['sse', 'websocket'] as const)('in Chromium over %s', (kind) => {
  it('messages sent through server drops and a restart arrive once, in order; states are the spec six', async () => {
    const page = await openPage();
    const client = `${kind}-page`;
    await page.evaluate(
      ({ kind, client, wsUrl, sseUrl }) => {
        const { createConnection, webSocketTransport, sseTransport } = (
          window as unknown as { holdfast: PageApi }
        ).holdfast;
        const transport =
          kind === 'websocket' ? webSocketTransport({ url: wsUrl }) : sseTransport({ url: sseUrl });
        const conn = createConnection({ transport, backoff: () => 20, heartbeatTimeoutMs: 500 });
        const w = window as never as { states: string[]; done: number; conn: unknown };
        w.states = [];
        w.done = 0;
        w.conn = conn;
        conn.on('state', (to) => {
          w.states.push(to);
        });
        let n = 0;
        const timer = setInterval(() => {
          if (n >= 150) return clearInterval(timer);
          conn.send({ client, n: ++n }).then(
            () => {
              w.done++;
            },
            (e: Error) => console.log(`dropped: ${e.message}`),
          );
        }, 5);
      },
      { kind, client, wsUrl: listening.wsUrl, sseUrl: listening.sseUrl },
    );
    const done = () => page.evaluate(() => (window as never as { done: number }).done);
    await until(() => received.filter((m) => m.client === client).length > 30, 'first messages');
    server.faults.dropAll();
    await until(() => received.filter((m) => m.client === client).length > 70, 'more messages');
    await server.faults.restart();
    await until(
      () => received.filter((m) => m.client === client).length > 110,
      'messages after the restart',
    );
    // SSE: sends now get 404 on a stream that still looks alive; the page must recover.
    if (kind === 'sse') server.faults.forgetConnections();
    else server.faults.dropAll();
    let count = 0;
    for (let i = 0; i < 400 && count < 150; i++) {
      count = await done();
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(count).toBe(150);
    const got = received.filter((m) => m.client === client).map((m) => m.n);
    expect(got).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
    const states = await page.evaluate(() => (window as never as { states: string[] }).states);
    const six = ['connecting', 'open', 'reconnecting', 'flushing', 'suspended', 'closed'];
    expect(states.every((s) => six.includes(s))).toBe(true);
    expect(states).toContain('reconnecting');
    await page.close();
  });
});

type PageWindow = { states: string[]; setVisibility(v: string): void };

/**
 * A page whose connection records its states in `window.states` and is bound to the
 * page's lifecycle. `fakeVisibility`: headless Chromium keeps pages visible (minimising
 * its window over the DevTools protocol changes nothing), so the page's visibility is
 * then set from inside it, with `window.setVisibility`.
 */
async function openBoundPage(fakeVisibility: boolean) {
  const page = await openPage();
  await page.evaluate(
    ({ wsUrl, fake }) => {
      const { createConnection, webSocketTransport, bindPageLifecycle } = (
        window as unknown as { holdfast: PageApi }
      ).holdfast;
      const conn = createConnection({
        transport: webSocketTransport({ url: wsUrl }),
        backoff: () => 20,
      });
      const w = window as unknown as PageWindow;
      w.states = [];
      conn.on('state', (to) => {
        w.states.push(to);
      });
      if (fake) {
        let visibility = 'visible';
        Object.defineProperty(document, 'visibilityState', { get: () => visibility });
        w.setVisibility = (v) => {
          visibility = v;
          document.dispatchEvent(new Event('visibilitychange'));
        };
      }
      bindPageLifecycle(conn);
    },
    { wsUrl: listening.wsUrl, fake: fakeVisibility },
  );
  return {
    page,
    reached: (state: string) =>
      page.waitForFunction((s) => (window as unknown as PageWindow).states.at(-1) === s, state),
    states: () => page.evaluate(() => (window as unknown as PageWindow).states),
  };
}

describe('page lifecycle in Chromium', () => {
  it('offline suspends and online resumes on a fresh link', async () => {
    const { page, reached, states } = await openBoundPage(false);
    await reached('open');
    await page.context().setOffline(true);
    await reached('suspended');
    await page.context().setOffline(false);
    await reached('open');
    expect(await states()).toEqual(['open', 'suspended', 'connecting', 'open']);
    await page.close();
  });
});

describe('page visibility in Chromium', () => {
  it('a hidden page suspends and a visible one resumes on a fresh link', async () => {
    const { page, reached, states } = await openBoundPage(true);
    const setVisibility = (v: string) =>
      page.evaluate((value) => (window as unknown as PageWindow).setVisibility(value), v);
    await reached('open');
    await setVisibility('hidden');
    await reached('suspended');
    await setVisibility('visible');
    await reached('open');
    expect(await states()).toEqual(['open', 'suspended', 'connecting', 'open']);
    await page.close();
  });
});

describe('React in Chromium', () => {
  it('useSelector on conn.actor re-renders with the connection state', async () => {
    const page = await openPage();
    await page.addScriptTag({ url: '/react-example.js', type: 'module' });
    await page.waitForFunction(
      () => typeof (window as unknown as { renderStatus?: unknown }).renderStatus === 'function',
    );
    await page.evaluate((wsUrl) => {
      const { createConnection, webSocketTransport } = (window as unknown as { holdfast: PageApi })
        .holdfast;
      const conn = createConnection({
        transport: webSocketTransport({ url: wsUrl }),
        backoff: () => 20,
      });
      const element = document.createElement('div');
      element.id = 'status';
      document.body.append(element);
      const w = window as unknown as {
        conn: typeof conn;
        renderStatus: (c: unknown, e: Element) => void;
      };
      w.conn = conn;
      w.renderStatus(conn, element);
    }, listening.wsUrl);
    const text = () => page.locator('#status p').getAttribute('data-state');
    await page.waitForFunction(
      () => document.querySelector('#status p')?.getAttribute('data-state') === 'open',
    );
    await page.evaluate(() => (window as unknown as { conn: { suspend(): void } }).conn.suspend());
    await page.waitForFunction(
      () => document.querySelector('#status p')?.getAttribute('data-state') === 'suspended',
    );
    expect(await text()).toBe('suspended');
    await page.close();
  });
});
