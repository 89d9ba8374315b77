import type { Connection } from '../../src/connection.js';

/** The app's calls on a connection that the simulation's steps and the model's events make. */
export type AppCall = 'suspend' | 'resume' | 'close' | 'watch' | 'unwatch';

/** Make the app's call on `conn`: `watch` and `unwatch` take its stream (and seq). */
export function callApp(
  conn: Connection,
  call: { readonly type: AppCall; readonly stream?: string; readonly seq?: number },
): void {
  const { stream = '', seq } = call;
  switch (call.type) {
    case 'suspend':
      conn.suspend();
      break;
    case 'resume':
      conn.resume();
      break;
    case 'close':
      conn.close();
      break;
    case 'watch':
      conn.watch(stream, seq);
      break;
    case 'unwatch':
      conn.unwatch(stream);
      break;
  }
}
