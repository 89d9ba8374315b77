/**
 * The seed app's backend in miniature (the wire is `protocol.ts`): node:http, one event
 * stream per connection, session logs with replay, a message handled once per id. The
 * faults are the ones the seed app met in production, for the tests to replay.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  Path,
  type ReconnectBody,
  SeedEvent,
  type SendBody,
  type SessionEvent,
  type SuspendBody,
} from './protocol.js';

export interface SeedServerOptions {
  /** @default 15000 */
  heartbeatMs?: number;
  /** A named event the client can see, or a `:` comment it cannot. @default 'event' */
  heartbeat?: 'event' | 'comment';
  /** Called once per message id; throw to refuse the message (`422`). */
  onMessage?: (message: { id: string; payload: unknown }) => void;
  /** Awaited before a reconnect's replay: a test holds the reconnect with it. */
  beforeReplay?: () => Promise<void> | void;
}

interface Client {
  readonly id: string;
  readonly res: ServerResponse;
  readonly sessions: Set<string>;
}

export function createSeedServer(options: SeedServerOptions = {}) {
  const { heartbeatMs = 15_000, heartbeat = 'event' } = options;
  const known = new Map<string, Client>();
  const streams = new Set<ServerResponse>();
  const closedIds = new Set<string>();
  const logs = new Map<string, SessionEvent[]>();
  const handledIds = new Set<string>();
  let failing = { count: 0, status: 503, retryAfter: '' };
  let answersToLose = 0;

  /** What the server saw, for the tests. */
  const seen = {
    /** Messages handed to the app, in order. */
    received: [] as Array<{ id: string; payload: unknown }>,
    /** Every POST, in the order the server answered it, and when (`Date.now()`). */
    answered: [] as Array<{
      path: string;
      status: number;
      body: Record<string, unknown>;
      at: number;
    }>,
    /** When each `GET /events` came (`Date.now()`). */
    streamsOpened: [] as number[],
    heartbeats: 0,
  };

  /** One event on a stream; nothing once the stream has ended (its `close` comes later). */
  const write = (res: ServerResponse, event: string, data: unknown) => {
    if (!res.writableEnded) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };

  function openStream(res: ServerResponse) {
    const client: Client = { id: randomUUID(), res, sessions: new Set() };
    known.set(client.id, client);
    streams.add(res);
    seen.streamsOpened.push(Date.now());
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    write(res, SeedEvent.connected, { connectionId: client.id, heartbeatMs });
    const beat = setInterval(() => {
      seen.heartbeats++;
      if (heartbeat === 'event') write(res, SeedEvent.heartbeat, {});
      else if (!res.writableEnded) res.write(': heartbeat\n\n');
    }, heartbeatMs);
    res.on('close', () => {
      clearInterval(beat);
      streams.delete(res);
      // A suspend notice posted as the stream closes is still welcome; a forgotten one is not.
      if (known.get(client.id) !== client) return;
      known.delete(client.id);
      closedIds.add(client.id);
    });
  }

  async function post(path: string, body: Record<string, unknown>, req: IncomingMessage) {
    const answer = (status: number, headers: Record<string, string> = {}, reply = {}) => {
      seen.answered.push({ path, status, body, at: Date.now() });
      return { status, headers, reply: JSON.stringify(reply) };
    };
    if (path === Path.reconnect) {
      const { connectionId, requestId, sessions } = body as unknown as ReconnectBody;
      if (!known.has(connectionId)) return answer(404);
      await options.beforeReplay?.();
      const client = known.get(connectionId);
      if (client === undefined) return answer(404);
      for (const { sessionId, lastSeq } of sessions) {
        client.sessions.add(sessionId);
        for (const event of logs.get(sessionId)?.slice(lastSeq) ?? [])
          write(client.res, SeedEvent.message, event);
      }
      write(client.res, SeedEvent.replayed, { requestId });
      return answer(200);
    }
    if (path === Path.send) {
      const { connectionId, id, payload } = body as unknown as SendBody;
      if (failing.count > 0) {
        failing.count--;
        return answer(
          failing.status,
          failing.retryAfter ? { 'Retry-After': failing.retryAfter } : {},
        );
      }
      if (!known.has(connectionId)) return answer(404);
      if (!handledIds.has(id)) {
        try {
          options.onMessage?.({ id, payload });
        } catch (error) {
          return answer(422, {}, { error: String(error) });
        }
        handledIds.add(id);
        seen.received.push({ id, payload });
      }
      if (answersToLose > 0) {
        answersToLose--;
        // Handled, but the answer never arrives: the client must resend with the same id.
        req.socket.destroy();
        return undefined;
      }
      return answer(200);
    }
    if (path === Path.suspend) {
      const { connectionId } = body as unknown as SuspendBody;
      return answer(known.has(connectionId) || closedIds.has(connectionId) ? 204 : 404);
    }
    return answer(404);
  }

  const http = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method === 'GET' && path === Path.events) return openStream(res);
    let text = '';
    req.on('data', (chunk) => {
      text += chunk;
    });
    req.on('end', () => {
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(text);
      } catch {
        return res.writeHead(400).end();
      }
      post(path, body, req).then(
        (answer) => answer && res.writeHead(answer.status, answer.headers).end(answer.reply),
        () => res.writeHead(500).end(),
      );
    });
  });

  return {
    seen,
    /** Append to a session's log and send it to every connection that follows the session. */
    publish(sessionId: string, payload: unknown) {
      const log = logs.get(sessionId) ?? [];
      logs.set(sessionId, log);
      const event: SessionEvent = { sessionId, seq: log.length + 1, payload };
      log.push(event);
      for (const client of known.values())
        if (client.sessions.has(sessionId)) write(client.res, SeedEvent.message, event);
    },
    /** A notice to every connection: not logged, no seq. */
    notify(text: string, sessionId?: string) {
      for (const client of known.values()) write(client.res, SeedEvent.notice, { sessionId, text });
    },
    faults: {
      /** End every event stream (a restart, a proxy timeout). */
      dropStreams: () => {
        for (const res of streams) res.end();
      },
      /** Forget every connection but keep its stream open: POSTs get 404 (the seed's bug). */
      forgetConnections: () => known.clear(),
      /** Answer the next `count` sends with `status`, without handling them. */
      failNextSends: (count: number, status = 503, retryAfterSeconds?: number) => {
        failing = { count, status, retryAfter: retryAfterSeconds ? String(retryAfterSeconds) : '' };
      },
      /** Handle the next `count` sends but cut the connection instead of answering. */
      loseNextAnswers: (count: number) => {
        answersToLose = count;
      },
    },
    /** Listen on 127.0.0.1, a free port. */
    async listen() {
      await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
      const { port } = http.address() as AddressInfo;
      return {
        url: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((resolve) => {
            for (const res of streams) res.end();
            http.closeAllConnections();
            http.close(() => resolve());
          }),
      };
    },
  };
}

export type SeedServer = ReturnType<typeof createSeedServer>;
