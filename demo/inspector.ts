/**
 * --inspect: `@statelyai/inspect`'s local bridge to the Stately inspector UI, and the
 * `inspect` observer that streams the clients' machines to it.
 */
import { createWebSocketInspector } from '@statelyai/inspect';
import { createInspectorServer } from '@statelyai/inspect/server';

export function startInspector(port: number) {
  const bridge = createInspectorServer({ port, autoOpen: false });
  const inspector = createWebSocketInspector({ url: `ws://127.0.0.1:${port}` });
  return {
    url: `http://localhost:${port}`,
    inspect: inspector.inspect,
    stop() {
      inspector.stop();
      bridge.stop();
    },
  };
}

/**
 * Resolves on the next Ctrl-C (SIGINT), which then no longer kills the process at once; a
 * second one still does, should closing hang.
 */
export function untilInterrupted(): Promise<void> {
  return new Promise((resolve) => process.once('SIGINT', () => resolve()));
}
