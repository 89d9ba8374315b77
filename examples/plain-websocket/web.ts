/**
 * What the plain WebSocket transport uses of a WebSocket, typed by shape so that browsers'
 * global, the `ws` package's client (Node 20) and a test's fake all fit.
 */

/** `WebSocket.OPEN`, the same number everywhere. */
export const OPEN = 1;

export interface WebSocketLike {
  readonly readyState: number;
  /**
   * The DOM's `send(data)` only queues the frame in the socket's buffer and says nothing
   * more. The `ws` package also takes a callback, called once the frame was handed to the
   * operating system, or with an error if it could not be: the closest this wire comes to
   * "written".
   */
  send(data: string, callback?: (error?: Error) => void): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(
    type: 'close',
    listener: (event: { code?: number; reason?: string }) => void,
  ): void;
  addEventListener(type: 'error', listener: (event: unknown) => void): void;
  /**
   * Only the `ws` package's socket has this (a Node `EventEmitter`): it is how the transport
   * tells the two kinds of `send` apart, and hears the server's pings, which browsers answer
   * without telling the page.
   */
  on?(event: 'ping', listener: () => void): unknown;
}

export type WebSocketConstructorLike = new (url: string) => WebSocketLike;
