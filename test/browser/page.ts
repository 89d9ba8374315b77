/**
 * The page the browser tests load: served by the reference server itself (same origin),
 * it imports the built ESM bundle and xstate through an import map and uses the browser's
 * own WebSocket, EventSource and fetch.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, normalize } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8">
<script type="importmap">{"imports":{"xstate":"/node_modules/xstate/dist/xstate.esm.js"}}</script>
<script type="module">
  import { createConnection } from '/dist/index.js';
  import { webSocketTransport } from '/dist/websocket.js';
  import { sseTransport } from '/dist/sse.js';
  import { bindPageLifecycle } from '/dist/browser.js';
  window.holdfast = { createConnection, webSocketTransport, sseTransport, bindPageLifecycle };
  window.ready = true;
</script></head><body>holdfast browser test</body></html>`;

const TYPES: Record<string, string> = {
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.map': 'application/json',
};

/** Scripts a test builds on the fly (path → JavaScript), e.g. the React example. */
export const extraScripts = new Map<string, string>();

/** Serves the page, dist/ and xstate's browser build; everything else is 404. */
export function servePage(req: IncomingMessage, res: ServerResponse): void {
  const path = normalize(decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/'));
  const extra = extraScripts.get(path);
  if (extra !== undefined) {
    res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(extra);
    return;
  }
  if (path === '/favicon.ico') {
    res.writeHead(204).end();
    return;
  }
  if (path === '/') {
    res.writeHead(200, { 'Content-Type': 'text/html' }).end(PAGE);
    return;
  }
  if (path.startsWith('/dist/') || path.startsWith('/node_modules/xstate/')) {
    try {
      const body = readFileSync(join(root, path));
      const type = TYPES[path.slice(path.lastIndexOf('.'))] ?? 'application/octet-stream';
      res.writeHead(200, { 'Content-Type': type }).end(body);
      return;
    } catch {
      // fall through to 404
    }
  }
  res.writeHead(404).end();
}
