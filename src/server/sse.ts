/** The SSE + HTTP POST half of the reference server (wire protocol v1, docs/protocol.md). */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  Header,
  HttpStatus,
  ResultStatus,
  SseEvent,
  SsePath,
  type SsePostPath,
} from '../../adapters/protocol.js';
import { type Hub, readPositions } from './hub.js';

/** Node lowercases the names of incoming headers. */
const CONNECTION_ID = Header.connectionId.toLowerCase();

export interface SseSideOptions {
  heartbeatMs: number;
  maxBodyBytes: number;
}

function reply(res: ServerResponse, status: number, body?: object): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
}

/** Read a JSON body, or answer 413 / 400 and resolve undefined. */
function readBody(req: IncomingMessage, res: ServerResponse, limit: number): Promise<unknown> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const fail = (status: number, error: string) => {
      if (done) return;
      done = true;
      reply(res, status, { error });
      resolve(undefined);
    };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        fail(HttpStatus.payloadTooLarge, `body over ${limit} bytes`);
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => fail(HttpStatus.badRequest, 'request failed'));
    req.on('end', () => {
      if (done) return;
      try {
        done = true;
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        done = false;
        fail(HttpStatus.badRequest, 'malformed JSON');
      }
    });
  });
}

/** `GET B/events`: open the event stream of a new connection. */
export function openEventStream(hub: Hub, res: ServerResponse, options: SseSideOptions): void {
  res.writeHead(HttpStatus.ok, {
    'Content-Type': 'text/event-stream',
    'Cache-Control': 'no-cache',
    Connection: 'keep-alive',
  });
  const write = (event: string, data: object) => {
    if (!res.writableEnded) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  const { connection, closed } = hub.connect(
    {
      transport: 'sse',
      deliver: (event) => write(SseEvent.event, event),
      ping: () => write(SseEvent.ping, {}),
      drop: () => res.destroy(),
    },
    options.heartbeatMs,
  );
  res.on('close', closed);
  write(SseEvent.welcome, { connectionId: connection.id, heartbeatMs: options.heartbeatMs });
}

/** `POST B/resume`, `B/send`, `B/suspend`. */
export async function handlePost(
  hub: Hub,
  action: SsePostPath,
  req: IncomingMessage,
  res: ServerResponse,
  options: SseSideOptions,
): Promise<void> {
  const id = req.headers[CONNECTION_ID];
  if (typeof id !== 'string' || id === '')
    return reply(res, HttpStatus.badRequest, {
      error: `${Header.connectionId} header is required`,
    });
  const body = (await readBody(req, res, options.maxBodyBytes)) as
    | { streams?: unknown; messages?: unknown }
    | undefined;
  if (body === undefined) return;
  if (hub.silent) return; // a silent server never answers; the client's timeouts must cope
  const connection = action === SsePath.suspend ? hub.findForSuspend(id) : hub.connections.get(id);
  if (connection === undefined) {
    return reply(res, HttpStatus.notFound, { error: 'unknown connection' });
  }

  if (action === SsePath.resume) {
    const positions = readPositions(body?.streams);
    if (!positions) {
      return reply(res, HttpStatus.badRequest, { error: 'streams must be [{ stream, seq }]' });
    }
    const fault = hub.resumeFault();
    if (fault === 'fail') {
      return reply(res, HttpStatus.internalError, { error: 'injected resume failure' });
    }
    if (fault === 'hang') return;
    hub.resume(connection, positions);
    return reply(res, HttpStatus.ok, {});
  }
  if (action === SsePath.suspend) {
    connection.suspends++;
    return reply(res, HttpStatus.noContent);
  }
  // action === SsePath.send
  const messages = body?.messages;
  if (
    !Array.isArray(messages) ||
    messages.length === 0 ||
    !messages.every((m) => typeof m?.id === 'string' && m.id !== '')
  ) {
    return reply(res, HttpStatus.badRequest, {
      error: 'messages must be a non-empty [{ id, data }]',
    });
  }
  const failure = hub.takeFailure();
  if (failure !== undefined) return reply(res, failure, { error: 'injected failure' });
  const results = (messages as Array<{ id: string; data: unknown }>).map((m) => {
    const verdict = hub.accept({ id: m.id, data: m.data }, connection);
    return verdict.ok
      ? { id: m.id, status: ResultStatus.ok }
      : { id: m.id, status: ResultStatus.rejected, error: verdict.error };
  });
  return reply(res, HttpStatus.ok, { results });
}
