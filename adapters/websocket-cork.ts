/**
 * Frames written in one tick leave in one write to the kernel, where a WebSocket has a
 * byte stream that can be corked: Node's `ws` keeps its `net.Socket` as `_socket`. One
 * write per frame was most of what a confirmed message cost on both sides of a WebSocket
 * (docs/benchmarks.md, "socket.io baseline"). Corking holds writes back and lets them go
 * together: the same bytes, in the same order; only the number of writes changes.
 */

/** A byte stream that can hold writes back (`cork`) and then let them go (`uncork`). */
export interface Corkable {
  cork(): void;
  uncork(): void;
}

/**
 * The byte stream under a socket of the `ws` package, which can be corked; undefined for
 * any other WebSocket (browsers', Node's global one). `_socket` is not `ws`'s public API,
 * so it is only read and checked, never relied on: without it every frame is written at
 * once, as it would be anyway. Never throws, whatever the socket's `_socket` does.
 */
export function corkableOf(socket: unknown): Corkable | undefined {
  try {
    const stream = (socket as { _socket?: Partial<Corkable> } | null | undefined)?._socket;
    if (typeof stream?.cork !== 'function' || typeof stream.uncork !== 'function') return undefined;
    return stream as Corkable;
  } catch {
    // A getter (or a proxy) that throws: a socket of some other kind, with nothing to cork.
    return undefined;
  }
}

/**
 * `cork(socket)` corks the socket's stream, if it has one, until the next microtask: every
 * frame written meanwhile goes out in one write. Calls while corked do nothing. Never
 * throws: a stream that refuses is left as it is.
 */
export function tickCorker(): { cork(socket: unknown): void } {
  let corked: Corkable | undefined;
  const uncork = () => {
    const stream = corked;
    corked = undefined;
    try {
      stream?.uncork();
    } catch {
      // A stream already destroyed: nothing is left to write.
    }
  };
  return {
    cork(socket) {
      if (corked !== undefined) return;
      try {
        const stream = corkableOf(socket);
        if (stream === undefined) return;
        stream.cork();
        corked = stream;
        queueMicrotask(uncork);
      } catch {
        // Not corked: every frame is written at once.
      }
    },
  };
}
