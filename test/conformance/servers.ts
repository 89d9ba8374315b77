/**
 * Our two servers behind the kit's `ServerHooks`: the memory server (steered through
 * `behave()`) and the reference server on 127.0.0.1, port 0 (through its `faults`). What
 * a third party writes for their own server; docs/testing-kit.md shows the second.
 */
import type { Socket } from 'node:net';
import { createMemoryServer, type MemoryServer } from '../../adapters/memory.js';
import { createServer, type Listening, type ReferenceServer } from '../../src/server/index.js';
import type { ReceivedMessage, ServerHooks } from '../../src/testing/index.js';

export interface MemoryBed {
  readonly server: MemoryServer;
  readonly hooks: ServerHooks;
}

/** A memory server whose every fault the kit knows is one hook away. */
export function memoryBed(): MemoryBed {
  const received: ReceivedMessage[] = [];
  const server = createMemoryServer({ heartbeatMs: 50, onMessage: (m) => received.push(m) });
  let failing = 0;
  let staleUpTo = 0;
  let loseNext = false;
  let losingOn = 0;
  server.behave({
    send: (message, link) => {
      if (link.id <= staleUpTo) return 'stale';
      // Sends behind the one whose ack is lost wait with it: handled in order or not at all.
      if (link.id === losingOn) return 'hold';
      if (failing > 0) {
        failing--;
        return 'retry';
      }
      if (!loseNext) return 'ok';
      loseNext = false;
      losingOn = link.id;
      // Handed to the app, then the link dies before the answer: the ack is lost.
      queueMicrotask(() => {
        link.pendingSends.find((p) => p.message === message)?.handleWithoutReply();
        link.drop({ reason: 'the ack was lost' });
      });
      return 'hold';
    },
  });
  const hooks: ServerHooks = {
    received: () => received,
    publish: (stream, data) => server.publish(stream, data),
    dropLinks: () => server.dropAll(),
    restart: ({ keepState }) => server.restart({ keepState }),
    loseNextAck: () => {
      loseNext = true;
    },
    failNextSends: (count) => {
      failing = count;
    },
    holdResumes: (on) => server.behave({ resume: on ? 'hold' : 'ok' }),
    staleLinks: () => {
      staleUpTo = server.links[server.links.length - 1]?.id ?? 0;
    },
    // Links neither end has closed: a link the client let go of is closed here at once.
    liveLinks: () => server.live.length,
  };
  return { server, hooks };
}

export interface ReferenceBed {
  readonly server: ReferenceServer;
  readonly listening: Listening;
  readonly hooks: ServerHooks;
  close(): Promise<void>;
}

/**
 * The reference server on loopback, every hook through its `faults`. `liveLinks()` counts
 * the sockets that carry a link (a WebSocket, an SSE event stream) until they close:
 * `server.connections` would not do, as `forgetConnections()` takes an SSE connection out
 * of it while its event stream stays open until the client lets go of it.
 */
export async function referenceBed(): Promise<ReferenceBed> {
  const received: ReceivedMessage[] = [];
  let loseNext = false;
  const linkSockets = new Set<Socket>();
  const server = createServer({
    heartbeatMs: 50,
    // Asked for every upgrade and request: the ones that open a link are counted.
    authorize: (request) => {
      const path = (request.url ?? '').split('?')[0];
      const opensLink = path === '/ws' || (request.method === 'GET' && path === '/sse/events');
      if (opensLink && !request.socket.destroyed) {
        const socket = request.socket;
        linkSockets.add(socket);
        socket.once('close', () => linkSockets.delete(socket));
      }
      return true;
    },
    // Restarts and drops make sockets fail on purpose: nothing here is news.
    onError: () => {},
    onMessage: (message, connection) => {
      received.push(message);
      if (!loseNext) return;
      loseNext = false;
      // The app has it; the link dies before the ack is written.
      connection.drop();
    },
  });
  const listening = await server.listen(0, '127.0.0.1');
  const hooks: ServerHooks = {
    received: () => received,
    publish: (stream, data) => server.publish(stream, data),
    dropLinks: () => server.faults.dropAll(),
    restart: ({ keepState }) => server.faults.restart({ keepState }),
    loseNextAck: () => {
      loseNext = true;
    },
    failNextSends: (count) => server.faults.failNextSends(count),
    holdResumes: (on) => server.faults.hangResumes(on),
    staleLinks: () => server.faults.forgetConnections(),
    liveLinks: () => linkSockets.size,
  };
  return { server, listening, hooks, close: () => listening.close() };
}
