/**
 * `@statelyai/inspect` in Node: its inspector server (a local page that frames the Stately
 * inspector, and a WebSocket relay to it) and the `inspect` observer that streams actors
 * to that relay. Both have sharp edges, each noted where it bites.
 */
import { createServer } from 'node:net';
import { createWebSocketInspector } from '@statelyai/inspect';
import { createInspectorServer } from '@statelyai/inspect/server';

/**
 * A port that is free right now. The inspector server cannot be given port 0: it never
 * says which port it got. Probed the way it binds (every interface, no host).
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

export interface Inspector {
  /** The page to open in a browser (it loads the inspector UI from stately.ai). */
  readonly url: string;
  /** Pass as `createConnection({ inspect })`, or to any `createActor`. */
  readonly inspect: ReturnType<typeof createWebSocketInspector>['inspect'];
  /**
   * Stop streaming and stop the server. Call it once the inspector has connected: stopped
   * before, it connects 5 s later all the same. Browser tabs still open stay connected
   * (the server does not close its clients) and keep the process alive.
   */
  stop(): void;
}

/**
 * Start the inspector server on `port` and stream to it. The server listens on every
 * interface (it takes no host option): anyone who can reach the port reads every event
 * and context, and can send the page events of its own. A port in use is an EADDRINUSE
 * thrown out of the process, not an error this call can catch.
 */
export function startInspector(port: number): Inspector {
  const server = createInspectorServer({ port, autoOpen: false });
  const inspector = createWebSocketInspector({ url: `ws://127.0.0.1:${port}` });
  return {
    url: `http://localhost:${port}`,
    inspect: inspector.inspect,
    stop() {
      inspector.stop();
      server.stop();
    },
  };
}
